// The declarative JSON mapper: output fields taken from JSON pointers into the
// raw record (or constants), each coerced to a type; the idempotency key from
// fields or a stable hash; the event time from a field. The job spec's
// "mapper" section of type "json" fills these options (docs/job-spec.md).
#ifndef RECOVERY_JSON_MAPPER_H_
#define RECOVERY_JSON_MAPPER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recovery/export.h"
#include "recovery/mapper.h"

namespace recovery {

enum class JsonFieldType {
  kString,
  kInt64,
  kDouble,
  kBool,
  kDecimal,    // kept exact, as a string ("12.30")
  kTimestamp,  // written as RFC 3339 UTC
  kJson,       // any JSON value, as it is
};

// How a timestamp is written in the raw record.
enum class JsonTimeFormat { kRfc3339, kEpochSeconds, kEpochMillis, kEpochMicros };

struct JsonField {
  std::string name;  // required; unique among the fields
  // Exactly one: a JSON pointer into the raw record ("/amount/value"; ""
  // is the whole record), or a constant written as JSON text ("\"EUR\"", "1").
  std::optional<std::string> from;
  std::string const_json;
  JsonFieldType type = JsonFieldType::kString;
  std::optional<JsonTimeFormat> format;  // timestamp fields only; default kRfc3339
  // Decimal fields only: the source writes decimals as strings with a comma
  // ("12,30"), and they are written with a point ("12.30"). JSON numbers are
  // still taken as they are.
  bool decimal_comma = false;
  // A record whose value is missing or null is rejected into the dead
  // letters; otherwise the field is null (or `default_json`).
  bool required = false;
  std::string default_json;  // JSON text of the field's type; not with `required`
};

struct JsonMapperOptions {
  std::vector<JsonField> fields;  // at least one
  // The idempotency key: the values at these JSON pointers, or (key_hash) a
  // stable hash of the raw record. With neither, the key is the hash.
  std::vector<std::string> key_from;
  bool key_hash = false;
  // Where the event time is; empty: records have none (no window filtering
  // or coverage for them).
  std::string event_time_from;
  JsonTimeFormat event_time_format = JsonTimeFormat::kRfc3339;
  int64_t max_record_bytes = 16 << 20;  // larger records are rejected; 64 B to 1 GiB
};

// InvalidArgument naming each bad field ("fields[1].from: …").
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Mapper>> NewJsonMapper(const JsonMapperOptions& options);

}  // namespace recovery

#endif  // RECOVERY_JSON_MAPPER_H_
