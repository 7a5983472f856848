// The name of every metric the library exports, defined once: the engine
// records under these and the renderer describes them (src/metrics.cc).
#ifndef RECOVERY_ENGINE_METRIC_NAMES_H_
#define RECOVERY_ENGINE_METRIC_NAMES_H_

namespace recovery::metric {

inline constexpr char kRecordsFetched[] = "recovery_records_fetched_total";
inline constexpr char kRecordsDelivered[] = "recovery_records_delivered_total";
inline constexpr char kRecordsDropped[] = "recovery_records_dropped_total";
inline constexpr char kRecordsOutOfWindow[] = "recovery_records_out_of_window_total";
inline constexpr char kRecordsAlreadyPresent[] = "recovery_records_already_present_total";
inline constexpr char kDeadLetters[] = "recovery_dead_letters_total";
inline constexpr char kPages[] = "recovery_pages_total";
inline constexpr char kBytes[] = "recovery_bytes_total";
inline constexpr char kRetries[] = "recovery_retries_total";
inline constexpr char kHttpResponses[] = "recovery_http_responses_total";
inline constexpr char kSourceEvents[] = "recovery_source_events_total";
inline constexpr char kAuthRefreshes[] = "recovery_auth_refreshes_total";  // access tokens fetched
inline constexpr char kConcurrencyLimit[] = "recovery_concurrency_limit";  // adaptive: requests in flight
inline constexpr char kRequestRateLimit[] =
    "recovery_request_rate_limit";  // adaptive: per second, 0 unbounded
inline constexpr char kCursorRestarts[] =
    "recovery_cursor_restarts_total";  // shards restarted: cursor expired
inline constexpr char kRequestDuration[] = "recovery_request_duration_seconds";
inline constexpr char kBatchDuration[] = "recovery_batch_duration_seconds";
inline constexpr char kShards[] = "recovery_shards";
inline constexpr char kWindowCoverage[] = "recovery_window_coverage_ratio";
inline constexpr char kCheckpointAge[] = "recovery_checkpoint_age_seconds";
inline constexpr char kRecordsPerSecond[] = "recovery_records_per_second";

}  // namespace recovery::metric

#endif  // RECOVERY_ENGINE_METRIC_NAMES_H_
