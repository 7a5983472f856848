// The job spec's "mapper" section of type "json", read into JsonMapperOptions.
#ifndef RECOVERY_SPEC_MAPPER_SECTION_H_
#define RECOVERY_SPEC_MAPPER_SECTION_H_

#include "json/spec_reader.h"
#include "recovery/json_mapper.h"

namespace recovery {

// Reads the section, adding type errors under its JSON path; the mapper's
// own checks come when it is built.
JsonMapperOptions ReadJsonMapper(SpecObject& section);

}  // namespace recovery

#endif  // RECOVERY_SPEC_MAPPER_SECTION_H_
