// Turns the keys a destination says it holds into the per-record answer of
// PresenceCheck::Check, for sinks whose callbacks answer with keys.
#ifndef RECOVERY_SINKS_PRESENT_KEYS_H_
#define RECOVERY_SINKS_PRESENT_KEYS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "recovery/record.h"
#include "recovery/sink.h"

namespace recovery {

// Marks every record whose key is in `keys` present (all records sharing a
// key alike); keys matching no record go to `answer->unasked`.
void MarkPresentKeys(absl::Span<const Record> records, absl::Span<const std::string_view> keys,
                     PresenceAnswer* answer);

}  // namespace recovery

#endif  // RECOVERY_SINKS_PRESENT_KEYS_H_
