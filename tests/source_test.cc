#include "recovery/source.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fakes.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::T;
using testing::TempDir;
using testing::WriteFile;

const testing::TestContext kContext;

Shard AnyShard() { return Shard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")}; }

std::vector<std::string> Records(const Page& page) {
  std::vector<std::string> out;
  for (const RawRecord& r : page.records.records()) out.emplace_back(r.data);
  return out;
}

TEST(JsonlFileSourceTest, PagesByBatchSizeWithByteOffsetCursors) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), "{\"a\":1}\n\n  \n{\"a\":2}\r\n{\"a\":3}\n{\"a\":4}");
  JsonlFileSourceOptions o{dir.File("in.jsonl")};
  o.batch_size = 2;
  auto source = *NewJsonlFileSource(o);
  EXPECT_FALSE(source->partitions_by_shard());
  auto reader = *source->Open(AnyShard(), "", kContext);
  Page page;
  ASSERT_TRUE(reader->Next(&page).ok());
  EXPECT_THAT(Records(page), ::testing::ElementsAre("{\"a\":1}", "{\"a\":2}"));
  EXPECT_EQ(page.next_cursor, "21");
  EXPECT_FALSE(page.exhausted);
  page.Clear();
  ASSERT_TRUE(reader->Next(&page).ok());
  EXPECT_THAT(Records(page), ::testing::ElementsAre("{\"a\":3}", "{\"a\":4}"));
  EXPECT_TRUE(page.exhausted);
  EXPECT_EQ(page.progress, 1.0);

  // Resuming at a cursor continues exactly there.
  auto resumed = *source->Open(AnyShard(), "21", kContext);
  page.Clear();
  ASSERT_TRUE(resumed->Next(&page).ok());
  EXPECT_THAT(Records(page), ::testing::ElementsAre("{\"a\":3}", "{\"a\":4}"));
}

TEST(JsonlFileSourceTest, RecordsAreFollowedByPadding) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), "{}\n");
  auto reader = *(*NewJsonlFileSource({dir.File("in.jsonl")}))->Open(AnyShard(), "", kContext);
  Page page;
  ASSERT_TRUE(reader->Next(&page).ok());
  const RawRecord& r = page.records.records()[0];
  for (size_t i = 0; i < kRawRecordPadding; ++i) EXPECT_EQ(r.data.data()[r.data.size() + i], '\0');
}

TEST(JsonlFileSourceTest, OversizeLinesBecomeErrorsWithoutBeingHeld) {
  TempDir dir;
  const std::string big(300000, 'x');
  WriteFile(dir.File("in.jsonl"), "{\"a\":1}\n" + big + "\n{\"a\":2}\n" + big);
  JsonlFileSourceOptions o{dir.File("in.jsonl")};
  o.max_record_bytes = 1024;
  auto reader = *(*NewJsonlFileSource(o))->Open(AnyShard(), "", kContext);
  Page page;
  ASSERT_TRUE(reader->Next(&page).ok());
  auto records = page.records.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].data, "{\"a\":1}");
  EXPECT_THAT(std::string(records[1].error),
              HasSubstr("line at byte offset 8 is 300001 bytes, over max_record_bytes (1024)"));
  EXPECT_EQ(records[1].data.size(), 256u);
  EXPECT_EQ(records[2].data, "{\"a\":2}");
  EXPECT_FALSE(records[3].error.empty());
  EXPECT_TRUE(page.exhausted);
}

TEST(JsonlFileSourceTest, BadCursorsAndMissingFilesAreClearErrors) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), "{}\n");
  auto source = *NewJsonlFileSource({dir.File("in.jsonl")});
  auto r = source->Open(AnyShard(), "abc", kContext);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"abc\" is not a byte offset"));
  r = source->Open(AnyShard(), "999", kContext);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("past the end"));
  auto missing = *NewJsonlFileSource({dir.File("nope.jsonl")});
  r = missing->Open(AnyShard(), "", kContext);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nope.jsonl"));
  EXPECT_EQ(NewJsonlFileSource({""}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonlFileSourceTest, LongLinesAcrossManyChunks) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 50; ++i) content += "{\"pad\":\"" + std::string(i * 9000, 'p') + "\"}\n";
  WriteFile(dir.File("in.jsonl"), content);
  JsonlFileSourceOptions o{dir.File("in.jsonl")};
  o.batch_size = 7;
  auto reader = *(*NewJsonlFileSource(o))->Open(AnyShard(), "", kContext);
  size_t total = 0, bytes = 0;
  Page page;
  do {
    page.Clear();
    ASSERT_TRUE(reader->Next(&page).ok());
    for (const RawRecord& r : page.records.records()) {
      ASSERT_TRUE(r.error.empty());
      EXPECT_EQ(r.data.size(), 10 + total * 9000);
      ++total;
    }
    bytes += page.bytes;
  } while (!page.exhausted);
  EXPECT_EQ(total, 50u);
  EXPECT_EQ(bytes, content.size());
}

}  // namespace
}  // namespace recovery
