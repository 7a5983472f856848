// The job spec's "sink" section of type "http", read into HttpSinkOptions.
#ifndef RECOVERY_SPEC_HTTP_SINK_SECTION_H_
#define RECOVERY_SPEC_HTTP_SINK_SECTION_H_

#include "json/spec_reader.h"
#include "recovery/http_sink.h"
#include "recovery/job_spec.h"

namespace recovery {

// Reads and checks the section, adding every problem under its JSON path.
// Reads no environment: secrets are resolved by BuildHttpSink.
HttpSinkOptions ReadHttpSink(SpecObject& section, const JobSpec& spec);

}  // namespace recovery

#endif  // RECOVERY_SPEC_HTTP_SINK_SECTION_H_
