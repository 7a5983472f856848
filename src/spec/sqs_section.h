// The job spec's "source" and "sink" sections of type "sqs", read into
// SqsSourceOptions and SqsSinkOptions.
#ifndef RECOVERY_SPEC_SQS_SECTION_H_
#define RECOVERY_SPEC_SQS_SECTION_H_

#include <string>

#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "recovery/sqs.h"

namespace recovery {

// Each reads and checks its section, adding every problem under its JSON
// path. Neither reads the environment or the credentials file.
SqsSourceOptions ReadSqsSource(SpecObject& section, const std::string& base_dir);
SqsSinkOptions ReadSqsSink(SpecObject& section, const std::string& base_dir);

}  // namespace recovery

#endif  // RECOVERY_SPEC_SQS_SECTION_H_
