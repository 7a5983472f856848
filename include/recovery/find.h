// `recovery find`: what became of records, asked by key. Answered from the
// job's stored state: the key log the job keeps with JobSpec::key_log, and
// the dead letters; and from the destination, when the sink's presence check
// answers by key alone (PresenceCheck::answers_by_key), reading only.
#ifndef RECOVERY_FIND_H_
#define RECOVERY_FIND_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "recovery/checkpoint_store.h"
#include "recovery/components.h"
#include "recovery/dead_letter_store.h"
#include "recovery/export.h"
#include "recovery/job_spec.h"

namespace recovery {

struct KeyFate {
  std::string key;
  // Every entry the key log holds of the key, oldest first: the last tells
  // what became of it (a record read again, after a crash or by a replay,
  // has several).
  std::vector<KeyLogHit> seen;
  // Its dead letter, while the store holds its record and no replay has
  // settled it.
  std::optional<ListedLetter> letter;
  // Whether the destination holds the key now; nullopt when it was not asked.
  std::optional<bool> in_destination;

  // What the answer rests on: the last entry's outcome; kDeadLettered when
  // only a letter names the key; nullopt when nothing does.
  std::optional<RecordOutcome> outcome() const;
};

struct FindReport {
  std::vector<KeyFate> keys;  // in the order asked
  bool key_log_kept = false;  // the spec asks for a key log (JobSpec::key_log)
  bool destination_asked = false;
  // Why the destination was not asked, when it was not ("the sink has no
  // presence check", or the error it answered).
  std::string destination_note;
};

struct FindOptions {
  bool ask_destination = true;  // when the sink's presence check answers by key
};

// What became of each of `keys`. `components` may hold the checkpoint store,
// dead-letter store and mapper; what it lacks is built from the spec.
// Reads only.
RECOVERY_EXPORT absl::StatusOr<FindReport> FindKeys(const JobSpec& spec, Components components,
                                                    absl::Span<const std::string> keys,
                                                    const FindOptions& options = {});

// One line per key, for a person: "KEY: delivered by shard S (run R, at T)",
// "… found already present …", "… dead-lettered …: REASON", "… out of the
// job's window …", "never seen by the job"; each followed by whether the
// destination holds it, when asked, and a last line saying why it was not.
RECOVERY_EXPORT std::string FindReportText(const FindReport& report);

// {"key_log": bool, "destination_asked": bool, "destination_note"?, "keys":
// [{"key", "outcome", "shard"?, "run_id"?, "at"?, "times_seen", "reason"?,
// "in_destination"?}]}; outcome is "delivered", "already_present",
// "dead_lettered", "out_of_window", "dropped" or "not_seen".
RECOVERY_EXPORT std::string FindReportJson(const FindReport& report);

}  // namespace recovery

#endif  // RECOVERY_FIND_H_
