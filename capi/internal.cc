#include "capi/internal.h"

#include <cstdlib>
#include <cstring>

#include "recovery/status.h"

namespace recovery::capi {

void SetErr(char** errptr, std::string_view message) {
  if (errptr == nullptr) return;
  char* copy = static_cast<char*>(std::malloc(message.size() + 1));
  if (copy == nullptr) return;
  std::memcpy(copy, message.data(), message.size());
  copy[message.size()] = '\0';
  *errptr = copy;
}

int Fail(char** errptr, int code, std::string_view message) {
  SetErr(errptr, message);
  return code;
}

int FromStatus(const absl::Status& s, char** errptr) {
  if (s.ok()) return RECOVERY_OK;
  SetErr(errptr, ToStd(s.message()));
  return static_cast<int>(s.code());
}

// A status from a callback's return code and message.
absl::Status CallbackStatus(int code, const recovery_error_t& error, std::string_view what) {
  if (code == RECOVERY_OK) return absl::OkStatus();
  const bool known = std::string_view(recovery_status_name(code)) != "UNRECOGNIZED";
  const std::string message = StrCat(what, " callback returned ",
                                     known ? recovery_status_name(code) : StrCat(code, ", not a status code"),
                                     error.message.empty() ? "" : ": ", error.message);
  if (code > 0 && code <= 16) return absl::Status(static_cast<absl::StatusCode>(code), ToAbsl(message));
  if (code == RECOVERY_PAUSED) return PausedError(message);
  return absl::UnknownError(ToAbsl(message));
}

int64_t Micros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  if (t == absl::InfinitePast()) return INT64_MIN;
  return absl::ToUnixMicros(t);
}

recovery_progress_t ToC(const Progress& p) {
  recovery_progress_t c{};
  c.records_fetched = p.totals.records_fetched;
  c.records_delivered = p.totals.records_delivered;
  c.records_dropped = p.totals.records_dropped;
  c.records_out_of_window = p.totals.records_out_of_window;
  c.dead_letters = p.totals.dead_letters;
  c.pages = p.totals.pages;
  c.bytes = p.totals.bytes;
  c.retries = p.totals.retries;
  c.records_this_run = p.records_this_run;
  c.shards_total = p.shards_total;
  c.shards_done = p.shards_done;
  c.shards_failed = p.shards_failed;
  c.shards_running = p.shards_running;
  c.window_fraction = p.window_fraction;
  c.records_per_second = p.records_per_second;
  c.elapsed_us = absl::ToInt64Microseconds(p.elapsed);
  c.eta_us = p.eta == absl::InfiniteDuration() ? -1 : absl::ToInt64Microseconds(p.eta);
  return c;
}

}  // namespace recovery::capi
