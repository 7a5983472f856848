// Building the JSON mapper under a path, for the job-spec layer (errors like
// "mapper.fields[1].from: …").
#ifndef RECOVERY_JSON_JSON_MAPPER_H_
#define RECOVERY_JSON_JSON_MAPPER_H_

#include <memory>
#include <string_view>

#include "recovery/json_mapper.h"
#include "util/field_errors.h"

namespace recovery {

// Checks `options` and builds the mapper; null with every problem added
// under `path` when it cannot.
std::unique_ptr<Mapper> BuildJsonMapper(const JsonMapperOptions& options, std::string_view path,
                                        FieldErrors* errors);

}  // namespace recovery

#endif  // RECOVERY_JSON_JSON_MAPPER_H_
