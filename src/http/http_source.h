// The paginated HTTP API source (type "http"), built from its spec section.
#ifndef RECOVERY_HTTP_HTTP_SOURCE_H_
#define RECOVERY_HTTP_HTTP_SOURCE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "recovery/source.h"

namespace recovery {

// Null (with errors added to `config`'s error list) when the section is invalid.
std::unique_ptr<Source> BuildHttpSource(SpecObject& config, const JobSpec& spec);

// Parses `body` (with `headers`, names lower-case) as the answer to the first
// request of `shard`, exactly as a reader of `source` (built by
// BuildHttpSource) would: the records, the next cursor, whether the shard is
// exhausted. No request is made. For fuzzing and tests.
absl::Status ParseHttpPageForTesting(Source& source, const Shard& shard, std::string_view body,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     Page* page);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_SOURCE_H_
