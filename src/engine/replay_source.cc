#include "engine/replay_source.h"

#include "absl/strings/match.h"
#include "util/strings.h"

namespace recovery {
namespace {

class ReplayReader : public ShardReader {
 public:
  ReplayReader(LetterReadback* letters, const std::string* job, std::string replay,
               const ReplayOptions* options, size_t page_size, std::string after)
      : letters_(letters),
        job_(job),
        replay_(std::move(replay)),
        options_(options),
        page_size_(page_size),
        after_(std::move(after)) {}

  absl::Status Next(Page* page) override {
    listed_.clear();
    absl::Status s = letters_->ListLetters(*job_, replay_, after_, page_size_, &listed_);
    if (!s.ok()) return absl::Status(s.code(), StrCat("reading the dead letters to replay: ", s.message()));
    for (const ListedLetter& l : listed_) {
      page->bytes += l.raw.size();
      if (!Wanted(l)) continue;
      page->records.Add(l.raw, /*maybe_redelivered=*/false, l.id);
    }
    // The letters the filter passed over are left as they are, for a later
    // replay; the cursor moves past them all the same.
    page->next_cursor = listed_.empty() ? after_ : listed_.back().id;
    page->exhausted = listed_.size() < page_size_;
    after_ = page->next_cursor;
    return absl::OkStatus();
  }

 private:
  bool Wanted(const ListedLetter& l) const {
    if (!options_->reason.empty() && !absl::StrContains(ToAbsl(l.reason), ToAbsl(options_->reason)))
      return false;
    return l.time >= options_->since;
  }

  LetterReadback* letters_;
  const std::string* job_;
  const std::string replay_;
  const ReplayOptions* options_;
  const size_t page_size_;
  std::string after_;
  std::vector<ListedLetter> listed_;
};

class ReplaySource : public Source {
 public:
  ReplaySource(LetterReadback* letters, std::string job, ReplayOptions options)
      : letters_(letters),
        job_(std::move(job)),
        options_(std::move(options)),
        page_size_(static_cast<size_t>(options_.page_size)) {}

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext&) override {
    if (!IsReplayShardId(shard.id))
      return absl::InternalError(StrCat("the replay source was asked for shard ", shard.id));
    return std::unique_ptr<ShardReader>(
        new ReplayReader(letters_, &job_, shard.id, &options_, page_size_, std::string(cursor)));
  }
  bool partitions_by_shard() const override { return true; }
  bool commit_needs_saved_checkpoint() const override { return false; }  // a reader commits nothing

 private:
  LetterReadback* letters_;
  const std::string job_;
  const ReplayOptions options_;
  const size_t page_size_;
};

}  // namespace

Shard ReplayShard(const std::vector<Shard>& plan, int n) {
  Shard s;
  s.id = StrCat("replay-", n);
  s.index = static_cast<int>(plan.size()) + n - 1;
  s.start = plan.empty() ? absl::InfinitePast() : plan.front().start;
  // Never open-ended, so that a replay ends: letters of a follow-mode job's
  // open shard may lie anywhere after its start.
  s.end = plan.empty() || IsOpenEnded(plan.back())
              ? absl::FromCivil(absl::CivilSecond(9999, 12, 31), absl::UTCTimeZone())
              : plan.back().end;
  return s;
}

std::unique_ptr<Source> NewReplaySource(LetterReadback* letters, std::string job, ReplayOptions options) {
  return std::make_unique<ReplaySource>(letters, std::move(job), std::move(options));
}

}  // namespace recovery
