// The PostgreSQL sink's rows: each record of a batch turned into the text of
// its column values (what the INSERT's parameters and COPY's lines carry),
// records that can never fit a column rejected with the reason, repeated
// conflict keys dropped, and the COPY text format.
#ifndef RECOVERY_POSTGRES_SINK_ROWS_H_
#define RECOVERY_POSTGRES_SINK_ROWS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "recovery/record.h"
#include "recovery/sink.h"

namespace recovery {
namespace pg_rows {

// What a column is filled from: a JSON pointer into the mapped record, or
// one of the record's own values ($key, $event_time, $record), or where the
// batch comes from ($job, $run_id, $shard, $recovered_at: provenance, so that
// recovered rows can be told from a live feed's).
enum class From { kPointer, kKey, kEventTime, kRecord, kJob, kRunId, kShard, kRecoveredAt };

// The kind of a column's `from` ("$key" …), kPointer for anything else.
From FromOf(std::string_view from);
// The names FromOf knows, for messages: "\"$key\", \"$event_time\", …".
std::string_view SpecialFromNames();

// Where a batch comes from, for the provenance columns.
struct Provenance {
  std::string_view job, run_id, shard;
  std::string recovered_at;  // RFC 3339, when the batch is written
};

struct Column {
  std::string name;
  std::string from;  // as configured
  From kind = From::kPointer;
  // From the catalog, at Open():
  std::string type;   // format_type(), e.g. "numeric(12,2)"
  char category = 0;  // pg_type.typcategory: S string, N numeric, B bool, D date/time, U user, …
  bool json = false;  // json or jsonb: takes any JSON value as JSON text
  bool not_null = false;
  bool conflict = false;  // one of the ON CONFLICT columns
};

// One batch turned into rows: every value's text in `text`, located by
// (offset, length), or absent for NULL.
struct Rows {
  std::string text;
  std::vector<std::optional<std::pair<size_t, size_t>>> values;  // row-major
  std::vector<size_t> index;                                     // row -> index in the batch
  void Clear() {
    text.clear();
    values.clear();
    index.clear();
  }
};

// Turns the batch into rows; records that can never fit become rejections.
void BuildRows(absl::Span<const Column> columns, absl::Span<const Record> batch, const Provenance& provenance,
               Rows* rows, std::vector<SinkRejection>* rejected);

// Keeps one row per conflict key (ON CONFLICT cannot touch a row twice in
// one statement): the first, or with `keep_last` (DO UPDATE) the last.
void DropRepeatedKeys(absl::Span<const Column> columns, bool keep_last, Rows* rows);

// The rows in COPY's text format (`width` columns): tab-separated, \N for NULL.
void CopyText(size_t width, const Rows& rows, std::string* out);

}  // namespace pg_rows
}  // namespace recovery

#endif  // RECOVERY_POSTGRES_SINK_ROWS_H_
