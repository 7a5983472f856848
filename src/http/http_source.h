// The paginated HTTP API source (type "http"), built from its spec section.
#ifndef RECOVERY_HTTP_HTTP_SOURCE_H_
#define RECOVERY_HTTP_HTTP_SOURCE_H_

#include <memory>

#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "recovery/source.h"

namespace recovery {

// Null (with errors added to `config`'s error list) when the section is invalid.
std::unique_ptr<Source> BuildHttpSource(SpecObject& config, const JobSpec& spec);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_SOURCE_H_
