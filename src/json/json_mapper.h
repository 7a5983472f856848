// Building the JSON mapper from a spec section (used by the component
// registry, which reports config errors with their JSON paths).
#ifndef RECOVERY_JSON_JSON_MAPPER_H_
#define RECOVERY_JSON_JSON_MAPPER_H_

#include <memory>

#include "spec/spec_reader.h"
#include "recovery/mapper.h"

namespace recovery {

// Null (with errors added) when the section is invalid.
std::unique_ptr<Mapper> BuildJsonMapper(SpecObject& config);

}  // namespace recovery

#endif  // RECOVERY_JSON_JSON_MAPPER_H_
