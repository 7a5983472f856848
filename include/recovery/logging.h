// The engine's log events: a level, a message, and structured fields as one
// JSON object, handed to a callback the caller chooses.
#ifndef RECOVERY_LOGGING_H_
#define RECOVERY_LOGGING_H_

#include <functional>
#include <string_view>

#include "recovery/export.h"

namespace recovery {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogEvent {
  LogLevel level;
  std::string_view message;
  // The event's structured fields as one JSON object, e.g.
  // {"shard":"…","cursor":"…","records":100,"resume":{…}}.
  std::string_view fields_json;
};

// Called from engine threads; calls are serialized.
using LogCallback = std::function<void(const LogEvent&)>;

RECOVERY_EXPORT std::string_view LogLevelName(LogLevel level);

// Writes "time level message fields" lines to stderr for events at or above
// `min_level`.
RECOVERY_EXPORT LogCallback StderrLogger(LogLevel min_level = LogLevel::kInfo);

}  // namespace recovery

#endif  // RECOVERY_LOGGING_H_
