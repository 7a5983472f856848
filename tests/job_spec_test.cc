#include "recovery/job_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/components.h"
#include "testing/test_util.h"
#include "util/strings.h"

namespace recovery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::T;

constexpr char kValid[] = R"({
  "name": "loyalty-gap",
  "description": "vendor feed silent 14-18 Nov",
  "window": {"start": "2026-11-14T00:00:00Z", "end": "2026-11-18T00:00:00Z"},
  "shard_duration": "6h",
  "concurrency": 4,
  "max_records": 1000,
  "retry": {"initial_backoff": "100ms", "max_backoff": "10s", "max_attempts": 5, "max_elapsed": "2m"},
  "error_budget": {"max_count": 10, "max_fraction": 0.5, "min_records": 20},
  "source": {"type": "jsonl_file", "path": "export.jsonl", "batch_size": 100},
  "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id"}]},
  "sink": {"type": "jsonl_file", "path": "out.jsonl", "format": "envelope"},
  "checkpoint": {"type": "file", "dir": "state"},
  "dead_letters": {"type": "file", "path": "dead.jsonl"}
})";

TEST(JobSpecTest, ParsesEveryField) {
  auto spec = JobSpec::Parse(kValid);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "loyalty-gap");
  EXPECT_EQ(spec->start, T("2026-11-14T00:00:00Z"));
  EXPECT_EQ(spec->end, T("2026-11-18T00:00:00Z"));
  EXPECT_EQ(spec->shard_duration, absl::Hours(6));
  EXPECT_EQ(spec->concurrency, 4);
  EXPECT_EQ(spec->max_records, 1000);
  EXPECT_EQ(spec->retry.initial_backoff, absl::Milliseconds(100));
  EXPECT_EQ(spec->retry.max_backoff, absl::Seconds(10));
  EXPECT_EQ(spec->retry.max_attempts, 5);
  EXPECT_EQ(spec->retry.max_elapsed, absl::Minutes(2));
  EXPECT_EQ(spec->error_budget.max_count, 10);
  EXPECT_EQ(spec->error_budget.max_fraction, 0.5);
  EXPECT_EQ(spec->error_budget.min_records, 20);
  EXPECT_EQ(spec->source.type, "jsonl_file");
  EXPECT_THAT(spec->source.json, HasSubstr("\"batch_size\":100"));
  EXPECT_EQ(spec->sink.type, "jsonl_file");
  EXPECT_EQ(spec->checkpoint.type, "file");
  EXPECT_EQ(spec->dead_letters.type, "file");
}

TEST(JobSpecTest, DefaultsAreDocumentedValues) {
  auto spec = JobSpec::Parse(
      R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"}})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shard_duration, absl::InfiniteDuration());
  EXPECT_EQ(spec->concurrency, 1);
  EXPECT_EQ(spec->max_records, 0);
  EXPECT_EQ(spec->retry.max_attempts, 10);
  EXPECT_EQ(spec->error_budget.max_count, -1);
  EXPECT_FALSE(spec->source.present());
}

TEST(JobSpecTest, ReportsEveryErrorWithItsPath) {
  std::vector<std::string> errors = ValidateJobSpec(R"({
    "name": "bad name!",
    "window": {"start": "2026-11-14", "end": "2026-11-18T00:00:00Z"},
    "concurency": 4,
    "max_records": -1,
    "shard_duration": "6 hours",
    "retry": {"max_attempts": "3"},
    "source": {"type": "jsonl_file", "batch_size": "100"},
    "mapper": {"type": "json", "fields": [{"name": "id", "from": "/id", "type": "strng"}]},
    "sink": {"type": "kafka"},
    "checkpoint": {"dir": "x"}
  })");
  EXPECT_THAT(
      errors,
      ElementsAre(
          "name: must be 1 to 128 of A-Z a-z 0-9 . _ - (it names checkpoint files), got \"bad name!\"",
          "window.start: expected an RFC 3339 time such as \"2026-11-14T00:00:00Z\", got \"2026-11-14\"",
          "shard_duration: expected a duration such as \"250ms\", \"30s\", \"1h30m\" or \"2d\", got \"6 "
          "hours\"",
          "max_records: must be between 0 and 9223372036854775807, got -1",
          "retry.max_attempts: expected integer, got \"3\"", "checkpoint.type: required but missing",
          "concurency: unknown key (did you mean \"concurrency\"?)", "source.path: required but missing",
          "source.batch_size: expected integer, got \"100\"",
          "mapper.fields[0].type: expected one of \"string\", \"int64\", \"double\", \"bool\", \"decimal\", "
          "\"timestamp\", \"json\", got \"strng\"",
          "sink.type: unknown type \"kafka\" (known: http, jsonl_file, null, postgres, sqs, callback)"));
}

TEST(JobSpecTest, AKeyGivenTwiceIsAnError) {
  // JSON allows it and only one would count: a config never means that.
  std::vector<std::string> errors = ValidateJobSpec(
      R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
          "source":{"type":"jsonl_file","path":"a","batch_size":10,"batch_size":20},
          "mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]},"sink":{"type":"null"}})");
  EXPECT_THAT(errors, ElementsAre("source.batch_size: duplicate key: given more than once"));
}

TEST(JobSpecTest, ParseFailsWithInvalidArgumentListingErrors) {
  auto spec =
      JobSpec::Parse(R"({"name":"j","window":{"start":"2026-11-15T00:00:00Z","end":"2026-11-14T00:00:00Z"},
                                 "concurrency":0})");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("window.end: must be after window.start"));
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("concurrency: must be between 1 and 1024, got 0"));
}

TEST(JobSpecTest, RejectsNonObjectsAndBrokenJson) {
  EXPECT_THAT(ValidateJobSpec("[]"), ElementsAre("(top level): expected object, got an array"));
  EXPECT_THAT(ValidateJobSpec("{\"name\":"), ElementsAre(HasSubstr("(top level): invalid JSON")));
  EXPECT_THAT(
      ValidateJobSpec(R"({"name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},
                                  "source":"file.jsonl"})"),
      ElementsAre("source: expected object, got \"file.jsonl\""));
}

TEST(JobSpecTest, FromFileResolvesRelativePathsAgainstTheFile) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("job.json"), kValid);
  auto spec = JobSpec::FromFile(dir.File("job.json"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->base_dir, dir.path());
  auto missing = JobSpec::FromFile(dir.File("nope.json"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.json"));
}

// A build configured without a backend still knows its section types, and
// says that this build left them out (instead of "unknown type").
TEST(JobSpecTest, ABackendLeftOutOfTheBuildIsNamed) {
  const std::string window =
      R"("name":"j","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"})";
  const std::vector<std::string> http = ValidateJobSpec(
      "{" + window +
      R"(,"source":{"type":"http","url":"http://127.0.0.1:9/x","pagination":{"type":"offset"}}})");
  const std::vector<std::string> pg =
      ValidateJobSpec("{" + window + R"(,"checkpoint":{"type":"postgres","dsn":"host=127.0.0.1"}})");
#if RECOVERY_WITH_HTTP
  EXPECT_THAT(http, ::testing::IsEmpty());
#else
  EXPECT_THAT(http, ElementsAre("source.type: \"http\" is not in this build of the library (built with "
                                "RECOVERY_WITH_HTTP=OFF)"));
#endif
#if RECOVERY_WITH_POSTGRES
  EXPECT_THAT(pg, ::testing::IsEmpty());
#else
  EXPECT_THAT(pg, ElementsAre("checkpoint.type: \"postgres\" is not in this build of the library (built with "
                              "RECOVERY_WITH_POSTGRES=OFF)"));
#endif
}

}  // namespace
}  // namespace recovery

namespace recovery {
namespace {

// `recovery state set`: each source style takes the positions it can, in its
// own terms, and refuses the rest with the form it takes.
absl::StatusOr<std::string> CursorAt(const std::string& source, const std::string& position,
                                     const std::string& base_dir = "") {
  absl::StatusOr<JobSpec> spec = JobSpec::Parse(StrCat(
      R"({"name":"p","window":{"start":"2026-11-14T00:00:00Z","end":"2026-11-15T00:00:00Z"},"source":)",
      source, R"(,"mapper":{"type":"json","fields":[{"name":"id","from":"/id"}]}})"));
  if (!spec.ok()) return spec.status();
  spec->base_dir = base_dir;
  return SourceCursorAt(*spec, position);
}

#if RECOVERY_WITH_HTTP
std::string Http(const std::string& pagination) {
  return StrCat(R"({"type":"http","url":"http://127.0.0.1:1/v1","records":"/data","pagination":)", pagination,
                "}");
}

TEST(SourcePositionTest, EachHttpPagingStyleTakesItsOwnPositionsAndNamesTheFormOtherwise) {
  EXPECT_EQ(*CursorAt(Http(R"({"type":"page"})"), "7"), "7");
  EXPECT_THAT(CursorAt(Http(R"({"type":"page"})"), "0").status().message(),
              ::testing::HasSubstr("pagination type \"page\" is a whole number from 1, got \"0\""));
  EXPECT_EQ(*CursorAt(Http(R"({"type":"page","first":0})"), "0"), "0");
  EXPECT_EQ(*CursorAt(Http(R"({"type":"offset"})"), "250"), "250");
  EXPECT_FALSE(CursorAt(Http(R"({"type":"offset"})"), "-1").ok());
  EXPECT_EQ(*CursorAt(Http(R"({"type":"keyset","time":"/t","id":"/id"})"), "2026-11-14T03:00:00Z,ord-1,2"),
            R"({"after_time":"2026-11-14T03:00:00Z","after_id":"ord-1,2"})");
  EXPECT_THAT(CursorAt(Http(R"({"type":"keyset","time":"/t","id":"/id"})"), "2026-11-14").status().message(),
              ::testing::HasSubstr("is TIME,ID"));
  EXPECT_THAT(CursorAt(Http(R"({"type":"cursor","from":"/next"})"), "abc").status().message(),
              ::testing::HasSubstr("tokens or URLs only the server names"));
  EXPECT_THAT(CursorAt(R"({"type":"sqs","queue_url":"http://127.0.0.1:1/q"})", "5").status().message(),
              ::testing::HasSubstr("\"sqs\" has no position an operator can name"));
}
#endif

// A JSON-lines export: a byte offset at the start of a line.
TEST(SourcePositionTest, AnExportTakesAByteOffsetAtTheStartOfALine) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("export.jsonl"), "{\"id\":1}\n{\"id\":2}\n");
  const std::string file = R"({"type":"jsonl_file","path":"export.jsonl"})";
  EXPECT_EQ(*CursorAt(file, "9", dir.path()), "9");
  EXPECT_EQ(*CursorAt(file, "0", dir.path()), "0");
  EXPECT_THAT(CursorAt(file, "4", dir.path()).status().message(), ::testing::HasSubstr("is inside a line"));
  EXPECT_THAT(CursorAt(file, "99", dir.path()).status().message(), ::testing::HasSubstr("past the end"));
}

}  // namespace
}  // namespace recovery
