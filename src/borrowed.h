// Components that forward to one owned elsewhere, so an owner can lend its
// component to a Backfiller (which takes ownership of what it is given) and
// keep it across runs: the public wrappers, which forward every virtual
// method of their interface (tests/borrowed_test.cc checks each), built on a
// borrowed pointer.
#ifndef RECOVERY_BORROWED_H_
#define RECOVERY_BORROWED_H_

#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

using BorrowedSource = SourceWrapper;

class BorrowedMapper : public Mapper {
 public:
  explicit BorrowedMapper(const Mapper* m) : m_(m) {}
  MapOutcome Map(const RawRecord& raw, const Shard& shard, RecordBatch* out,
                 std::string* reason) const override {
    return m_->Map(raw, shard, out, reason);
  }
  absl::Time EventTimeOf(const RawRecord& raw) const override { return m_->EventTimeOf(raw); }
  std::string KeyOf(const RawRecord& raw) const override { return m_->KeyOf(raw); }

 private:
  const Mapper* m_;
};

using BorrowedSink = SinkWrapper;
using BorrowedCheckpointStore = CheckpointStoreWrapper;
using BorrowedDeadLetterStore = DeadLetterStoreWrapper;

}  // namespace recovery

#endif  // RECOVERY_BORROWED_H_
