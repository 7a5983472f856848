#include "recovery/logging.h"

#include <cstdio>

#include "absl/time/clock.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

LogCallback StderrLogger(LogLevel min_level) {
  return [min_level](const LogEvent& e) {
    if (e.level < min_level) return;
    std::string line = FormatRfc3339(absl::Now());
    StrAppend(&line, " ", LogLevelName(e.level), " ", e.message, " ", e.fields_json, "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
}

}  // namespace recovery
