// What a vendor API or an export can throw at us: nesting ten thousand deep,
// strings of megabytes, invalid UTF-8, NUL bytes, a body that is not JSON at
// all. Each one is a clear error or a dead letter with its reason, never a
// crash, and nothing is held beyond the configured caps.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/http_source.h"
#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "recovery/mapper.h"
#include "simdjson.h"
#include "spec/http_section.h"
#include "testing/test_util.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::T;

const Shard kShard{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")};

std::string Nested(int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

// The mapper's verdict on `raw`: "" when emitted, else the reason.
std::string Verdict(const Mapper& mapper, const std::string& raw) {
  RawBatch in;
  in.Add(raw);
  RecordBatch out;
  std::string reason;
  const MapOutcome outcome = mapper.Map(in.records()[0], kShard, &out, &reason);
  if (outcome == MapOutcome::kEmitted) return "";
  EXPECT_FALSE(reason.empty());
  return reason;
}

TEST(HostileInputTest, TheMapperRejectsEachWithAReason) {
  auto mapper = *NewJsonMapper(R"({"type":"json","fields":[{"name":"id","from":"/id","required":true},
      {"name":"blob","from":"/blob","type":"json"}],"max_record_bytes":1048576})");
  // Nesting far past simdjson's depth limit: in a field we copy it is
  // refused, naming the field; in one we skip it is never looked into.
  EXPECT_EQ(Verdict(*mapper, R"({"id":"a","blob":)" + Nested(10000) + "}"),
            "field blob (/blob): expected json, got an array that nests deeper than 1024 levels");
  EXPECT_EQ(Verdict(*mapper, R"({"id":"a","other":)" + Nested(10000) + "}"), "");
  // A string of 2 MB in a 1 MB budget; one of 900 KB passes whole.
  EXPECT_THAT(Verdict(*mapper, R"({"id":"a","blob":")" + std::string(2 << 20, 'x') + "\"}"),
              HasSubstr("max_record_bytes"));
  EXPECT_EQ(Verdict(*mapper, R"({"id":"a","blob":")" + std::string(900 << 10, 'x') + "\"}"), "");
  // Invalid UTF-8: a lone continuation byte, an overlong encoding, a surrogate.
  for (const char* bad : {"\x80", "\xc0\xaf", "\xed\xa0\x80"}) {
    EXPECT_EQ(Verdict(*mapper, std::string(R"({"id":")") + bad + "\"}"), "record is not valid UTF-8") << bad;
  }
  // NUL bytes: raw inside a string (a control character JSON forbids), and
  // between tokens; an escaped \u0000 is legal and kept.
  EXPECT_THAT(Verdict(*mapper, std::string("{\"id\":\"a\0b\"}", 11)), HasSubstr("invalid JSON"));
  EXPECT_THAT(Verdict(*mapper, std::string("{\"id\":\"a\"}\0", 11)), HasSubstr("invalid JSON"));
  EXPECT_EQ(Verdict(*mapper, R"({"id":"a\u0000b"})"), "");
  // Not JSON at all.
  for (const char* junk : {"", "null", "[]", "\"id\"", "<html>502 Bad Gateway</html>", "{\"id\":"}) {
    EXPECT_NE(Verdict(*mapper, junk), "") << junk;
  }
}

std::unique_ptr<Source> HttpSource(const std::string& extra = "") {
  const std::string section = R"({"type":"http","url":"http://127.0.0.1:9/v1/x","records":"/data",)"
                              R"("pagination":{"type":"cursor","from":"/next"})" +
                              extra + "}";
  simdjson::dom::parser parser;
  SpecErrors errors;
  SpecObject o(parser.parse(section).value(), "source", &errors);
  o.String("type");
  JobSpec spec;
  std::unique_ptr<Source> source = BuildHttpSource(ReadHttpSource(o, spec), o.path(), o.errors());
  o.Finish();
  EXPECT_TRUE(errors.empty()) << errors.list()[0];
  return source;
}

std::string PageError(Source& source, const std::string& body) {
  Page page;
  absl::Status s = ParseHttpPageForTesting(source, kShard, body, {}, &page);
  return s.ok() ? "" : std::string(s.message());
}

TEST(HostileInputTest, TheHttpSourceRefusesUnusablePagesNamingTheRequest) {
  std::unique_ptr<Source> source = HttpSource();
  auto mapper = *NewJsonMapper(R"({"type":"json","fields":[{"name":"id","from":"/id"}]})");
  // A record nested 10,000 deep: the page is read, the record is refused by
  // the mapper (into the dead letters) rather than the whole page.
  {
    Page page;
    ASSERT_TRUE(ParseHttpPageForTesting(*source, kShard, R"({"data":[)" + Nested(10000) + R"(,{"id":"b"}]})",
                                        {}, &page)
                    .ok());
    ASSERT_EQ(page.records.size(), 2u);
    EXPECT_NE(Verdict(*mapper, std::string(page.records.records()[0].data)), "");
    EXPECT_EQ(Verdict(*mapper, std::string(page.records.records()[1].data)), "");
  }
  EXPECT_THAT(PageError(*source, std::string("{\"data\":[{\"id\":\"a\0\"}]}", 20)),
              HasSubstr("unusable body"));
  // Invalid UTF-8 anywhere in a page: simdjson checks the whole body first,
  // so the page is refused (retried, then the shard stops) naming the reason.
  EXPECT_THAT(PageError(*source, "{\"data\":[{\"id\":\"\xff\"},{\"id\":\"b\"}]}"),
              HasSubstr("unusable body (The input is not valid UTF-8)"));
  EXPECT_THAT(PageError(*source, "<html>502 Bad Gateway</html>"), HasSubstr("GET http://127.0.0.1:9/v1/x"));
  EXPECT_THAT(PageError(*source, R"({"rows":[]})"), HasSubstr("no records at source.records \"/data\""));
  EXPECT_THAT(PageError(*source, R"({"data":{"id":1}})"), HasSubstr("is not an array"));
  // A page whose next cursor is a 1 MB string is taken as it is, not truncated.
  Page page;
  const std::string cursor(1 << 20, 'c');
  ASSERT_TRUE(
      ParseHttpPageForTesting(*source, kShard, R"({"data":[{"id":"a"}],"next":")" + cursor + "\"}", {}, &page)
          .ok());
  EXPECT_EQ(page.records.size(), 1u);
  EXPECT_THAT(page.next_cursor, HasSubstr(cursor));
}

}  // namespace
}  // namespace recovery
