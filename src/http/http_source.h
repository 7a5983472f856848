// The HTTP source's private side: building it for the job-spec layer (errors
// under the section's path), and a parse hook for the fuzzer.
#ifndef RECOVERY_HTTP_HTTP_SOURCE_H_
#define RECOVERY_HTTP_HTTP_SOURCE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recovery/http_source.h"
#include "recovery/source.h"
#include "util/field_errors.h"

namespace recovery {

// Adds every problem of `options` to `errors`, each under `path` ("source").
// Reads no environment.
void CheckHttpSourceOptions(const HttpSourceOptions& options, std::string_view path, FieldErrors* errors);

// Checks `options`, resolves the auth secret and builds the source; null with
// every problem (a missing secret among them) added under `path` when it cannot.
std::unique_ptr<Source> BuildHttpSource(const HttpSourceOptions& options, std::string_view path,
                                        FieldErrors* errors);

// Parses `body` (with `headers`, names lower-case) as the answer to the first
// request of `shard`, exactly as a reader of `source` (an HTTP source) would:
// the records, the next cursor, whether the shard is exhausted. No request is
// made. For fuzzing and tests.
absl::Status ParseHttpPageForTesting(Source& source, const Shard& shard, std::string_view body,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     Page* page);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_SOURCE_H_
