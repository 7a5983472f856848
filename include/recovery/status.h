// Status conventions shared by sources, sinks and the engine.
//
// kUnavailable and kDeadlineExceeded are transient: the engine retries them
// with exponential backoff and full jitter. Every other non-OK code is
// permanent for the shard. A transient status may carry a minimum delay
// before the next attempt (an HTTP Retry-After, an SQS throttle hint).
#ifndef RECOVERY_STATUS_H_
#define RECOVERY_STATUS_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "recovery/export.h"

namespace recovery {

// True for the codes the engine retries.
RECOVERY_EXPORT bool IsTransient(const absl::Status& status);

// Attaches "do not retry before `delay` has passed" to `status`.
RECOVERY_EXPORT void SetRetryAfter(absl::Status& status, absl::Duration delay);

// The delay attached by SetRetryAfter, if any.
RECOVERY_EXPORT std::optional<absl::Duration> GetRetryAfter(const absl::Status& status);

// A source's quota is exhausted for longer than the job may wait: the engine
// stops every shard cleanly and the run ends "paused" (resumable later),
// rather than failed. Use with kResourceExhausted.
RECOVERY_EXPORT absl::Status PausedError(std::string_view message);
RECOVERY_EXPORT bool IsPaused(const absl::Status& status);

// The source refused a saved or current position of a shard as no longer
// valid (an opaque cursor that expired): kFailedPrecondition, marked so the
// engine restarts the shard from its beginning, skipping what it delivered
// before, when the source said its cursors may expire
// (Source::cursors_may_expire); otherwise it fails the shard like any
// other refusal.
RECOVERY_EXPORT absl::Status CursorExpiredError(std::string_view message);
RECOVERY_EXPORT bool IsCursorExpired(const absl::Status& status);

// A worker lost its shard to another (ShardLease): kAborted, marked so the
// engine stops the shard without writing and without calling it failed.
RECOVERY_EXPORT absl::Status LeaseLostError(std::string_view message);
RECOVERY_EXPORT bool IsLeaseLost(const absl::Status& status);

}  // namespace recovery

#endif  // RECOVERY_STATUS_H_
