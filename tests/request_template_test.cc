// Request templates: placeholders pasted into URLs and text bodies, and
// rendered as JSON values inside a JSON body (a GraphQL query's variables).
#include "http/request_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace recovery {
namespace {

const std::set<std::string_view> kNumeric = {"limit", "page", "offset"};

TEST(RequestTemplateTest, TextTemplatesPasteValuesAndLeaveUnknownBraces) {
  const TemplateValues v = {{"start", "2026-11-14T00:00:00Z"}, {"limit", "100"}};
  EXPECT_EQ(RenderTemplate("/v1?from={start}&n={limit}&x={other}", v),
            "/v1?from=2026-11-14T00:00:00Z&n=100&x={other}");
}

TEST(RequestTemplateTest, AJsonBodyGetsJsonValuesAndStaysValidJson) {
  const std::string tmpl =
      R"({"query":"query($after:String,$first:Int){orders(first:$first,after:$after,query:\"created_at:>{start}\"){nodes{id} pageInfo{endCursor hasNextPage}}}",)"
      R"("variables":{"after":"{cursor}","first":"{limit}","from":"{start}","note":"a \"quoted\" {cursor}"}})";
  // Before the first page: no cursor yet, so null.
  TemplateValues v = {{"cursor", ""}, {"limit", "50"}, {"start", "2026-11-14T00:00:00Z"}};
  std::string first = RenderJsonTemplate(tmpl, v, kNumeric);
  EXPECT_THAT(first, ::testing::HasSubstr(R"("after":null,"first":50,"from":"2026-11-14T00:00:00Z")"));
  EXPECT_THAT(
      first,
      ::testing::HasSubstr(
          R"(query:\"created_at:>2026-11-14T00:00:00Z\"){nodes{id} pageInfo{endCursor hasNextPage}})"));
  // A cursor with quotes and backslashes is escaped, never pasted raw.
  v["cursor"] = R"(ab"c\d)";
  std::string next = RenderJsonTemplate(tmpl, v, kNumeric);
  EXPECT_THAT(next, ::testing::HasSubstr(R"("after":"ab\"c\\d")"));
  EXPECT_THAT(next, ::testing::HasSubstr(R"("note":"a \"quoted\" ab\"c\\d")"));
  for (const std::string& body : {first, next}) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  }
  // A numeric placeholder whose value is not a number stays a string.
  v["limit"] = "many";
  EXPECT_THAT(RenderJsonTemplate(tmpl, v, kNumeric), ::testing::HasSubstr(R"("first":"many")"));
}

}  // namespace
}  // namespace recovery
