// Checkpoint stores, the JSON-lines sink and the dead-letter file.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "checkpoint/checkpoint_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/job_state.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "testing/test_util.h"
#include "util/hash.h"
#include "util/strings.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::ReadFileOrEmpty;
using testing::ReadLines;
using testing::T;
using testing::TempDir;
using testing::WriteFile;

Checkpoint Sample() {
  Checkpoint c;
  c.state = ShardState::kRunning;
  c.cursor = "https://api.example.com/tx?after=2026-11-14T00:00:00Z&id=\"x\"";
  c.in_flight = true;
  c.sink_token = "1234";
  c.dead_letter_token = "56";
  c.progress = 0.25;
  c.counters.records_fetched = 100;
  c.counters.records_delivered = 90;
  c.counters.dead_letters = 3;
  c.counters.retries = 7;
  c.last_error = "boom";
  c.updated = T("2026-11-20T10:00:00.5Z");
  c.coverage = {{1763078400, 12}, {1763082000, 7}};
  c.reported_total = 19;
  return c;
}

void ExpectSame(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.cursor, b.cursor);
  EXPECT_EQ(a.in_flight, b.in_flight);
  EXPECT_EQ(a.sink_token, b.sink_token);
  EXPECT_EQ(a.dead_letter_token, b.dead_letter_token);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.counters.records_fetched, b.counters.records_fetched);
  EXPECT_EQ(a.counters.records_delivered, b.counters.records_delivered);
  EXPECT_EQ(a.counters.dead_letters, b.counters.dead_letters);
  EXPECT_EQ(a.counters.retries, b.counters.retries);
  EXPECT_EQ(a.last_error, b.last_error);
  EXPECT_EQ(a.updated, b.updated);
  EXPECT_EQ(a.coverage, b.coverage);
  EXPECT_EQ(a.hour_outcomes, b.hour_outcomes);
  EXPECT_EQ(a.reported_total, b.reported_total);
}

TEST(CheckpointCodecTest, RoundTripsIncludingBinaryCursors) {
  Checkpoint c = Sample();
  auto decoded = DecodeCheckpoint(EncodeCheckpoint("job", "shard", c), "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, c);

  c.cursor = std::string("\xff\x00\x01 binary", 10);
  const std::string encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr("\"cursor_base64\""));
  decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->cursor, c.cursor);
}

// A count that older readers do not know raises the version only when set:
// a checkpoint without it stays readable by them.
TEST(CheckpointCodecTest, RecordsOfOtherShardsNeedVersion6OnlyWhenCounted) {
  Checkpoint c = Sample();
  EXPECT_THAT(EncodeCheckpoint("job", "shard", c), HasSubstr(R"("version":1,)"));
  EXPECT_THAT(EncodeCheckpoint("job", "shard", c), ::testing::Not(HasSubstr("records_of_other_shards")));
  c.counters.records_out_of_window = 40;
  c.counters.records_of_other_shards = 30;
  const std::string encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr(R"("version":6,)"));
  auto decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->counters.records_out_of_window, 40u);
  EXPECT_EQ(decoded->counters.records_of_other_shards, 30u);
}

// A page cut by a record limit and an operator's edits need version 7, and
// only when present.
TEST(CheckpointCodecTest, ACutPageAndEditsNeedVersion7AndRoundTrip) {
  Checkpoint c = Sample();
  c.page_taken = 37;
  c.page_taken_hash = 0xfedcba9876543210ULL;
  c.edits = {R"({"at":"2026-12-07T08:00:00Z","by":"ops@host","action":"set","reason":"a \"quoted\" why"})",
             R"({"action":"skip"})"};
  const std::string encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr(R"("version":7,)"));
  auto decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, c);
  EXPECT_EQ(decoded->page_taken, 37u);
  EXPECT_EQ(decoded->page_taken_hash, 0xfedcba9876543210ULL);
  EXPECT_EQ(decoded->edits, c.edits);
  c.page_taken = 0;
  c.edits.clear();
  EXPECT_THAT(EncodeCheckpoint("job", "shard", c), HasSubstr(R"("version":1,)"));
}

// The outcomes per hour need version 8, and only when there are any; a
// hand-mangled entry is refused naming the field.
TEST(CheckpointCodecTest, OutcomesPerHourNeedVersion8AndRoundTrip) {
  Checkpoint c = Sample();
  c.hour_outcomes[1'700'000'000 - 1'700'000'000 % 3600] = {.already_present = 3, .dead_letters = 2};
  c.hour_outcomes[-7200] = {.out_of_window = 11};  // before 1970: still an hour
  const std::string encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr(R"("version":8,)"));
  EXPECT_THAT(encoded, HasSubstr(R"("hour_outcomes":{"-7200":[0,0,11],"1699999200":[3,2,0]})"));
  auto decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, c);

  for (std::string_view mangled :
       {R"({"3600":[1,2]})", R"({"x":[1,2,3]})", R"({"3600":[1,-2,3]})", R"([])"}) {
    std::string body = EncodeCheckpoint("job", "shard", c);
    body = body.substr(0, body.find('\n'));
    const size_t at = body.find(R"("hour_outcomes":)") + 16;
    body = StrCat(body.substr(0, at), mangled, "}");
    const std::string bytes = StrCat(body, "\n", Hex64(StableHash64(body)), "\n");
    auto bad = DecodeCheckpoint(bytes, "f");
    ASSERT_FALSE(bad.ok()) << mangled;
    EXPECT_THAT(bad.status().message(), HasSubstr("hour_outcomes")) << mangled;
  }
  c.hour_outcomes.clear();
  EXPECT_THAT(EncodeCheckpoint("job", "shard", c), HasSubstr(R"("version":1,)"));
}

// Where sorted records had got to, and where a restart reads from, need
// version 9, to the nanosecond, and only when set.
TEST(CheckpointCodecTest, ASortedPositionAndWhereARestartReadsFromNeedVersion9AndRoundTrip) {
  Checkpoint c = Sample();
  c.sorted_through = T("2026-11-14T07:12:33.123456789Z");
  c.sorted_keys = {7, 0xffffffffffffffffULL};
  c.read_from = T("2026-11-14T03:00:00.000000001Z");
  std::string encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr(R"("version":9,)"));
  auto decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, c);
  EXPECT_EQ(decoded->sorted_through, c.sorted_through);
  EXPECT_EQ(decoded->sorted_keys, c.sorted_keys);
  EXPECT_EQ(decoded->read_from, c.read_from);
  EXPECT_FALSE(decoded->unsorted);

  c = Sample();
  c.unsorted = true;
  encoded = EncodeCheckpoint("job", "shard", c);
  EXPECT_THAT(encoded, HasSubstr(R"("version":9,)"));
  decoded = DecodeCheckpoint(encoded, "f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->unsorted);
  EXPECT_EQ(decoded->sorted_through, absl::InfinitePast());
  EXPECT_EQ(decoded->read_from, absl::InfinitePast());
  EXPECT_THAT(EncodeCheckpoint("job", "shard", Sample()), HasSubstr(R"("version":1,)"));
}

// An audit line read back: every field, and a hand-edited line missing
// fields or holding the wrong types reads as empty fields, never a throw.
TEST(CheckpointCodecTest, AnAuditLineReadsBackAndAMangledOneReadsAsEmptyFields) {
  const EditRecord e = ReadEdit(
      R"({"at":"2026-12-07T08:00:00Z","by":"ops@h","action":"set","from":{"cursor":"","state":"pending"},)"
      R"("to":{"cursor":"120","state":"running"},"reason":"vendor re-sent"})");
  EXPECT_EQ(e.by, "ops@h");
  EXPECT_EQ(e.from_state, "pending");
  EXPECT_EQ(e.to_cursor, "120");
  EXPECT_EQ(e.reason, "vendor re-sent");
  const EditRecord mangled = ReadEdit(R"({"action":7,"from":"nope","to":{"steta":"running"}})");
  EXPECT_EQ(mangled.action, "");
  EXPECT_EQ(mangled.from_cursor, "");
  EXPECT_EQ(mangled.to_state, "");
  EXPECT_EQ(ReadEdit("not json").reason, "");
}

TEST(CheckpointCodecTest, EveryTruncationAndAlterationIsDataLossNamingTheFile) {
  const std::string good = EncodeCheckpoint("job", "shard", Sample());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = DecodeCheckpoint(good.substr(0, n), "/state/job/shard.ckpt");
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << n;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("/state/job/shard.ckpt")) << n;
  }
  for (size_t i = 0; i + 1 < good.size(); i += 7) {
    std::string bad = good;
    bad[i] ^= 0x01;
    EXPECT_EQ(DecodeCheckpoint(bad, "f").status().code(), absl::StatusCode::kDataLoss) << i;
  }
}

TEST(CheckpointCodecTest, NewerFormatIsRefusedWithAnUpgradeHint) {
  std::string body = R"({"format":"recovery-checkpoint","version":9})";
  std::string file = EncodeCheckpoint("j", "s", Sample());
  // Re-encode by hand: body line plus its checksum line.
  auto r = DecodeCheckpoint(body + "\n" + file.substr(file.find('\n') + 1), "f");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);  // checksum belongs to another body
}

TEST(FileCheckpointStoreTest, SaveLoadDeleteAndAtomicReplacement) {
  TempDir dir;
  auto store = NewFileCheckpointStore(dir.File("state"));
  ASSERT_TRUE(store.ok());
  auto none = (*store)->Load("job", "s1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE((*store)->Save("job", "s1", Sample()).ok());
  // A crash mid-save leaves a stray temp file; the real checkpoint is untouched.
  WriteFile(dir.File("state/job/s1.ckpt.tmp"), "{\"format\":\"recovery-ch");
  auto loaded = (*store)->Load("job", "s1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSame(**loaded, Sample());
  Checkpoint next = Sample();
  next.cursor = "next";
  ASSERT_TRUE((*store)->Save("job", "s1", next).ok());
  EXPECT_EQ((*(*store)->Load("job", "s1"))->cursor, "next");
  ASSERT_TRUE((*store)->Delete("job", "s1").ok());
  EXPECT_FALSE((*(*store)->Load("job", "s1")).has_value());
  EXPECT_TRUE((*store)->Delete("job", "s1").ok());
}

TEST(FileCheckpointStoreTest, CorruptFileIsDataLossNamingIt) {
  TempDir dir;
  auto store = *NewFileCheckpointStore(dir.path());
  ASSERT_TRUE(store->Save("job", "s1", Sample()).ok());
  ASSERT_TRUE(store->Save("job", "s2", Sample()).ok());  // a second group after the first
  const std::string log = dir.File("job/checkpoints.0.log");
  std::string bytes = ReadFileOrEmpty(log);
  bytes[bytes.find("recovery-checkpoint\"") + 3] ^= 1;  // inside the first group
  WriteFile(log, bytes);
  auto r = (*NewFileCheckpointStore(dir.path()))->Load("job", "s1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(log));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("whole groups follow it"));
}

TEST(FileCheckpointStoreTest, LockIsExclusiveAcrossProcesses) {
  TempDir dir;
  auto store = *NewFileCheckpointStore(dir.path());
  auto held = store->Lock("job", "");
  ASSERT_TRUE(held.ok()) << held.status();
  pid_t child = fork();
  if (child == 0) {
    auto other = *NewFileCheckpointStore(dir.path());
    auto r = other->Lock("job", "");
    const bool ok = !r.ok() && r.status().code() == absl::StatusCode::kFailedPrecondition &&
                    r.status().message().find("is already running") != absl::string_view::npos &&
                    r.status().message().find(std::to_string(getppid())) != absl::string_view::npos;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(store->Lock("other-job", "").ok());
  held->reset();
  EXPECT_TRUE(store->Lock("job", "").ok());
}

// The key log: entries come back with their shard, run and time; a torn tail
// a killed process left is cut off before the next append; a log that is not
// one, or another shard's, is DataLoss naming the file; a reset removes it.
TEST(FileCheckpointStoreTest, KeyLogFindsEntriesAcrossRunsAndSurvivesATornTail) {
  TempDir dir;
  const uint64_t a = StableKeyHash("a"), b = StableKeyHash("b");
  const absl::Time t1 = T("2026-12-07T10:00:00Z"), t2 = T("2026-12-07T11:00:00Z");
  {
    auto store = *NewFileCheckpointStore(dir.path());
    KeyLog* log = store->key_log();
    ASSERT_NE(log, nullptr);
    const KeyLogEntry first[] = {{a, RecordOutcome::kDelivered}, {b, RecordOutcome::kDeadLettered}};
    ASSERT_TRUE(log->Append("job", "s/1", "run-one", t1, first).ok());
  }
  const std::string path = dir.File("job/keys/") + Hex64(StableHash64("s/1")) + ".log";
  const std::string whole = ReadFileOrEmpty(path);
  EXPECT_EQ(whole.size(), 16 + 16 + 16 + 16 + 2 * 16u);  // header + id, run start + id, 2 entries
  WriteFile(path, whole + std::string(7, 'x'));          // a write cut short by a kill
  auto store = *NewFileCheckpointStore(dir.path());
  const KeyLogEntry second[] = {{a, RecordOutcome::kAlreadyPresent}};
  ASSERT_TRUE(store->key_log()->Append("job", "s/1", "run-two", t2, second).ok());
  ASSERT_TRUE(store->key_log()->Append("job", "s2", "run-two", t2, second).ok());
  const uint64_t wanted[] = {a};
  absl::StatusOr<std::vector<KeyLogHit>> hits = store->key_log()->Find("job", wanted);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->size(), 3u);
  std::sort(hits->begin(), hits->end(), [](const KeyLogHit& x, const KeyLogHit& y) {
    return std::tie(x.shard_id, x.at) < std::tie(y.shard_id, y.at);
  });
  EXPECT_EQ((*hits)[0].shard_id, "s/1");
  EXPECT_EQ((*hits)[0].run_id, "run-one");
  EXPECT_EQ((*hits)[0].at, t1);
  EXPECT_EQ((*hits)[0].outcome, RecordOutcome::kDelivered);
  EXPECT_EQ((*hits)[1].run_id, "run-two");
  EXPECT_EQ((*hits)[1].outcome, RecordOutcome::kAlreadyPresent);
  EXPECT_EQ((*hits)[2].shard_id, "s2");

  WriteFile(dir.File("job/keys/s3.log"), "not a key log at all");
  absl::StatusOr<std::vector<KeyLogHit>> broken = store->key_log()->Find("job", wanted);
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("s3.log: not a key log"));
  std::filesystem::remove(dir.File("job/keys/s3.log"));
  std::filesystem::copy_file(dir.File("job/keys/s2.log"), dir.File("job/keys/s4.log"));
  const absl::Status other = store->key_log()->Append("job", "s4", "run-two", t2, second);
  EXPECT_EQ(other.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(other.message()), HasSubstr("the key log of shard \"s2\", not of shard \"s4\""));
  std::filesystem::remove(dir.File("job/keys/s4.log"));

  ASSERT_TRUE(store->Delete("job", "s2").ok());
  EXPECT_EQ(store->key_log()->Find("job", wanted)->size(), 2u);
}

TEST(MemoryCheckpointStoreTest, BehavesLikeAStore) {
  auto store = NewMemoryCheckpointStore();
  ASSERT_TRUE(store->Save("j", "s", Sample()).ok());
  ExpectSame(**store->Load("j", "s"), Sample());
  auto lock = store->Lock("j", "");
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(store->Lock("j", "").status().code(), absl::StatusCode::kFailedPrecondition);
}

Shard TestShard() { return Shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")}; }

std::vector<SinkRejection> rejected;  // the JSON-lines sink rejects nothing

RecordBatch Batch(std::initializer_list<const char*> payloads) {
  RecordBatch b;
  int i = 0;
  for (const char* p : payloads) b.Add("k" + std::to_string(i++), T("2026-11-14T01:00:00Z"), p);
  return b;
}

TEST(JsonlFileSinkTest, AppendsAndReturnsTheCommittedLength) {
  TempDir dir;
  auto sink = *NewJsonlFileSink({dir.File("out/x.jsonl")});
  ASSERT_TRUE(sink->Open({}).ok());
  auto token = testing::WriteTo(*sink, TestShard(), Batch({"{\"a\":1}", "{\"a\":2}"}), &rejected);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "16");
  EXPECT_EQ(ReadFileOrEmpty(dir.File("out/x.jsonl")), "{\"a\":1}\n{\"a\":2}\n");
  EXPECT_TRUE(sink->traits().serialize_commits);
}

TEST(JsonlFileSinkTest, ResumeTruncatesToTheLargestCommittedLength) {
  TempDir dir;
  const std::string path = dir.File("x.jsonl");
  WriteFile(path, "{\"a\":1}\n{\"a\":2}\n{\"uncommitted\":tr");
  auto sink = *NewJsonlFileSink({path});
  ASSERT_TRUE(sink->Open({true, {"8", "16"}}).ok());
  EXPECT_EQ(ReadFileOrEmpty(path), "{\"a\":1}\n{\"a\":2}\n");
  ASSERT_TRUE(testing::WriteTo(*sink, TestShard(), Batch({"{\"a\":3}"}), &rejected).ok());
  EXPECT_EQ(ReadLines(path).size(), 3u);
}

TEST(JsonlFileSinkTest, RefusesToClobberAnExistingFileOfAFreshJob) {
  TempDir dir;
  const std::string path = dir.File("x.jsonl");
  WriteFile(path, "precious\n");
  auto sink = *NewJsonlFileSink({path});
  absl::Status s = sink->Open({});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_EQ(ReadFileOrEmpty(path), "precious\n");

  JsonlFileSinkOptions overwrite{path};
  overwrite.overwrite = true;
  auto sink2 = *NewJsonlFileSink(overwrite);
  ASSERT_TRUE(sink2->Open({}).ok());
  EXPECT_EQ(ReadFileOrEmpty(path), "");
}

TEST(JsonlFileSinkTest, AFileShorterThanCommittedIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("x.jsonl");
  WriteFile(path, "abc\n");
  auto sink = *NewJsonlFileSink({path});
  absl::Status s = sink->Open({true, {"100"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("holds 4 bytes but 100 were committed"));
  EXPECT_EQ(sink->Open({true, {"not-a-length"}}).code(), absl::StatusCode::kDataLoss);
}

// reconcile counts the envelope file by event time: a torn last line is a
// crash's tail and not counted; a broken line before it is data loss, named.
TEST(JsonlFileSinkTest, CountingSkipsATornTailAndNamesABrokenLine) {
  TempDir dir;
  const std::string path = dir.File("out.jsonl");
  JsonlFileSinkOptions o;
  o.path = path;
  o.format = JsonlFormat::kEnvelope;
  auto sink = NewJsonlFileSink(o);
  ASSERT_TRUE(sink.ok());
  const std::string good =
      R"({"key":"a","event_time":"2026-11-14T00:10:00Z","maybe_redelivered":false,"data":{}})"
      "\n"
      R"({"key":"b","event_time":null,"maybe_redelivered":false,"data":{}})"
      "\n"
      R"({"key":"c","event_time":"2026-11-14T01:59:00Z","maybe_redelivered":false,"data":{}})"
      "\n";
  WriteFile(path, good + R"({"key":"d","event_ti)");
  auto counts = (*sink)->counter()->CountByEventTime(T("2026-11-14T00:00:00Z"), absl::Hours(1), 3);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_THAT(*counts, ::testing::ElementsAre(1u, 1u, 0u));
  WriteFile(path, good + "not json at all\n" + good);
  counts = (*sink)->counter()->CountByEventTime(T("2026-11-14T00:00:00Z"), absl::Hours(1), 3);
  EXPECT_EQ(counts.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(counts.status().message(), HasSubstr("line 4: not an envelope line"));
}

TEST(JsonlFileSinkTest, EnvelopeCarriesKeyTimeAndRedeliveryFlag) {
  TempDir dir;
  JsonlFileSinkOptions o{dir.File("x.jsonl")};
  o.format = JsonlFormat::kEnvelope;
  auto sink = *NewJsonlFileSink(o);
  ASSERT_TRUE(sink->Open({}).ok());
  RecordBatch b = Batch({"{\"a\":1}"});
  b.Add("k\"q", kUnknownEventTime, "[]", true);
  ASSERT_TRUE(testing::WriteTo(*sink, TestShard(), b, &rejected).ok());
  EXPECT_EQ(ReadFileOrEmpty(dir.File("x.jsonl")),
            "{\"key\":\"k0\",\"event_time\":\"2026-11-14T01:00:00Z\",\"maybe_redelivered\":false,\"data\":{"
            "\"a\":1}}\n"
            "{\"key\":\"k\\\"q\",\"event_time\":null,\"maybe_redelivered\":true,\"data\":[]}\n");
}

TEST(JsonlFileSinkTest, EnvelopeCarriesProvenanceWhenAsked) {
  TempDir dir;
  JsonlFileSinkOptions o{dir.File("x.jsonl")};
  o.format = JsonlFormat::kEnvelope;
  o.provenance = true;
  auto sink = *NewJsonlFileSink(o);
  ASSERT_TRUE(sink->Open({}).ok());
  RecordBatch b = Batch({"{\"a\":1}", "{\"a\":2}"});
  WriteResult result;
  ASSERT_TRUE(sink->Write({TestShard(), b, nullptr, "gap-job", "run-7"}, &result).ok());
  const std::vector<std::string> lines = ReadLines(dir.File("x.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1],
              ::testing::StartsWith(StrCat(
                  R"({"key":"k1","event_time":"2026-11-14T01:00:00Z","maybe_redelivered":false,)",
                  R"("job":"gap-job","run_id":"run-7","shard":")", TestShard().id, R"(","recovered_at":")")));
  EXPECT_THAT(lines[1], ::testing::EndsWith(R"(","data":{"a":2}})"));
  // The presence check still reads the keys of such lines.
  PresenceAnswer answer;
  ASSERT_TRUE(sink->presence()->Check(TestShard(), b.records(), &answer).ok());
  EXPECT_THAT(answer.present, ::testing::ElementsAre(true, true));
}

TEST(FileDeadLetterStoreTest, WritesReasonsAndRawBytesAndKeepsOldFilesOfAFreshJob) {
  TempDir dir;
  const std::string path = dir.File("dead.jsonl");
  WriteFile(path, "from an earlier, reset run\n");
  auto store = *NewFileDeadLetterStore(path);
  ASSERT_TRUE(store->Open({}).ok());
  ASSERT_TRUE(store->Add({"job", "s1", "42", 3, "bad field", "{\"a\":", "", T("2026-11-20T00:00:00Z")}).ok());
  ASSERT_TRUE(
      store->Add({"job", "s1", "42", 4, "not UTF-8", "\xff\xfe", "msg-7", T("2026-11-20T00:00:00Z")}).ok());
  auto token = store->Flush();
  ASSERT_TRUE(token.ok());
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], R"({"time":"2026-11-20T00:00:00Z","job":"job","shard":"s1","cursor":"42","index":3,)"
                      R"("reason":"bad field","raw":"{\"a\":"})");
  EXPECT_THAT(lines[1],
              HasSubstr(R"("index":4,"source_id":"msg-7","reason":"not UTF-8","raw_base64":"//4=")"));
  int rotated = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    rotated += entry.path().filename().string().rfind("dead.jsonl.", 0) == 0;
  }
  EXPECT_EQ(rotated, 1);
}

}  // namespace
}  // namespace recovery
