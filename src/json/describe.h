// A short description of a JSON value for "expected X, got Y" messages:
// scalars as their JSON text (truncated), containers as "an object"/"an array".
#ifndef RECOVERY_JSON_DESCRIBE_H_
#define RECOVERY_JSON_DESCRIBE_H_

#include <string>

#include "simdjson.h"

namespace recovery {

std::string DescribeJson(simdjson::dom::element value);

}  // namespace recovery

#endif  // RECOVERY_JSON_DESCRIBE_H_
