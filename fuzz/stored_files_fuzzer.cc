// Any bytes as a file the tool reads back after a run: the dead-letter file a
// replay lists and the report groups, the JSON-lines sink file that reconcile
// counts in, and a shard's key log that `find` reads and the next run appends
// to. Each is read, or refused with a reason; never a crash. What a replay
// lists is bounded by its limit and its pages do not overlap; an append to a
// key log it accepted is found by the next reading.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "checkpoint/key_log_file.h"
#include "recovery/dead_letter_store.h"
#include "recovery/sink.h"
#include "recovery/sink_abilities.h"
#include "recovery/source.h"

namespace {

const std::string& Path() {
  static const std::string path = [] {
    char dir[] = "/tmp/recovery-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    return std::string(dir) + "/file.jsonl";
  }();
  return path;
}

void Refused(const absl::Status& s) {
  if (!s.ok() && s.message().empty()) __builtin_trap();  // a refusal names its reason
}

void Letters(const std::string& path) {
  absl::StatusOr<std::unique_ptr<recovery::DeadLetterStore>> store =
      recovery::NewFileDeadLetterStore(path, /*fsync=*/false);
  if (!store.ok()) return Refused(store.status());
  recovery::LetterReadback* readback = (*store)->readback();
  if (readback == nullptr) __builtin_trap();
  constexpr size_t kLimit = 3;
  std::vector<recovery::ListedLetter> first;
  absl::Status s = readback->ListLetters("job", "replay-1", "", kLimit, &first);
  Refused(s);
  if (first.size() > kLimit) __builtin_trap();
  if (s.ok() && !first.empty()) {
    std::vector<recovery::ListedLetter> next;
    Refused(readback->ListLetters("job", "replay-1", first.back().id, kLimit, &next));
    for (const recovery::ListedLetter& l : next) {
      for (const recovery::ListedLetter& f : first) {
        if (l.id == f.id) __builtin_trap();  // a page after the first repeats none of it
      }
    }
  }
  Refused(readback->ListLetters("job", "replay-1", "not an id", kLimit, &first));
  size_t raws = 0;
  Refused(readback->ForEachRaw("job", [&raws](std::string_view) { ++raws; }));
}

// A retention purge of every letter rewrites lines in place: the file keeps
// its length (every other letter its offset), and a second purge has nothing
// left to do.
void Purge(const std::string& path, size_t size) {
  absl::StatusOr<std::unique_ptr<recovery::DeadLetterStore>> store =
      recovery::NewFileDeadLetterStore(path, /*fsync=*/false);
  if (!store.ok()) return Refused(store.status());
  recovery::LetterReadback* readback = (*store)->readback();
  absl::StatusOr<std::map<std::string, uint64_t>> purged = readback->Purge("job", absl::InfiniteFuture());
  if (!purged.ok()) return Refused(purged.status());
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr || std::fseek(f, 0, SEEK_END) != 0) abort();
  const long length = std::ftell(f);
  std::fclose(f);
  if (length != static_cast<long>(size)) __builtin_trap();  // rewritten in place, the same length
  // A second purge finds nothing more it can rewrite.
  purged = readback->Purge("job", absl::InfiniteFuture());
  if (purged.ok() && !purged->empty()) __builtin_trap();
}

void Counts(const std::string& path) {
  recovery::JsonlFileSinkOptions options;
  options.path = path;
  options.format = recovery::JsonlFormat::kEnvelope;
  options.fsync = false;
  absl::StatusOr<std::unique_ptr<recovery::Sink>> sink = recovery::NewJsonlFileSink(options);
  if (!sink.ok()) return Refused(sink.status());
  recovery::DestinationCounter* counter = (*sink)->counter();
  if (counter == nullptr) __builtin_trap();
  const absl::Time start = absl::FromUnixSeconds(1794614400);  // 2026-11-14T00:00:00Z
  absl::StatusOr<std::vector<uint64_t>> counts = counter->CountByEventTime(start, absl::Hours(1), 48);
  if (!counts.ok()) return Refused(counts.status());
  if (counts->size() != 48) __builtin_trap();
}

// The bytes as shard "s"'s key log: read, then appended to.
void KeyLog(const std::string& path) {
  const uint64_t mark = 0x5eed5eed5eed5eedULL;
  const absl::flat_hash_set<uint64_t> wanted = {mark};
  std::vector<recovery::KeyLogHit> before;
  Refused(recovery::FindInKeyLog(path, wanted, &before));
  recovery::KeyLogFile file(path);
  const recovery::KeyLogEntry entry[] = {{mark, recovery::RecordOutcome::kDelivered}};
  const absl::Status appended = file.Append("s", "fuzz-run", absl::FromUnixSeconds(1794614400), entry);
  if (!appended.ok()) return Refused(appended);
  std::vector<recovery::KeyLogHit> after;
  if (!recovery::FindInKeyLog(path, wanted, &after).ok() || after.empty() || after.back().shard_id != "s" ||
      after.back().run_id != "fuzz-run")
    __builtin_trap();  // what was appended is read back
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = Path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) abort();
  std::fclose(f);
  Letters(path);
  Counts(path);
  Purge(path, size);
  KeyLog(path);
  return 0;
}
