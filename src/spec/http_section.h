// The job spec's "source" section of type "http", read into HttpSourceOptions.
#ifndef RECOVERY_SPEC_HTTP_SECTION_H_
#define RECOVERY_SPEC_HTTP_SECTION_H_

#include "http/http_source.h"
#include "json/spec_reader.h"
#include "recovery/job_spec.h"

namespace recovery {

// Reads and checks the section, adding every problem under its JSON path.
// Reads no environment: secrets are resolved by BuildHttpSource.
HttpSourceOptions ReadHttpSource(SpecObject& section, const JobSpec& spec);

}  // namespace recovery

#endif  // RECOVERY_SPEC_HTTP_SECTION_H_
