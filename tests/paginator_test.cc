// Each paging style on its own: its cursor round-trips, a page moves it on,
// and it proves exhaustion only the way its style can.
#include "http/paginator.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;

class FakePage : public PageFacts {
 public:
  int64_t count() const override { return count_; }
  bool BodyText(const std::string& pointer, std::string* out) override { return Find(body_, pointer, out); }
  bool BodyBool(const std::string& pointer, bool* out) override {
    std::string text;
    if (!Find(body_, pointer, &text) || (text != "true" && text != "false")) return false;
    *out = text == "true";
    return true;
  }
  bool LastRecordText(const std::string& pointer, std::string* out) override {
    return Find(last_, pointer, out);
  }
  const std::string* Header(std::string_view name) const override {
    auto it = headers_.find(std::string(name));
    return it == headers_.end() ? nullptr : &it->second;
  }
  const std::string& url() const override { return url_; }

  int64_t count_ = 0;
  std::map<std::string, std::string> body_, last_, headers_;
  std::string url_ = "https://api.example/v1/items?page=1";

 private:
  static bool Find(const std::map<std::string, std::string>& m, const std::string& key, std::string* out) {
    auto it = m.find(key);
    if (it == m.end()) return false;
    *out = it->second;
    return true;
  }
};

Redactor kNoSecrets;

std::unique_ptr<Paginator> Make(HttpPaging type, int64_t page_size = 10, bool short_page_ends = false) {
  HttpPagination o;
  o.type = type;
  o.short_page_ends = short_page_ends;
  o.cursor_from = "/next";
  o.cursor_header = "x-next";
  o.keyset_time = "/t";
  o.keyset_id = "/id";
  o.has_next_from = "/more";
  return NewPaginator(o, page_size, "api_key", &kNoSecrets);
}

// Advances from `at` past `page`.
PagePosition Step(const Paginator& p, const PagePosition& at, FakePage& page, bool* exhausted,
                  absl::Status* status = nullptr) {
  PagePosition next = at;
  next.started = true;
  absl::Status s = p.Advance(at, page, &next, exhausted);
  if (status != nullptr) *status = s;
  return next;
}

TEST(PaginatorTest, PageAndOffsetCountAndEndOnlyOnAnEmptyPageUnlessToldOtherwise) {
  for (HttpPaging type : {HttpPaging::kPage, HttpPaging::kOffset}) {
    auto p = Make(type);
    FakePage page;
    page.count_ = 3;  // short: a server may cap page sizes silently
    bool exhausted = true;
    PagePosition next = Step(*p, p->First(), page, &exhausted);
    EXPECT_FALSE(exhausted);
    absl::StatusOr<PagePosition> back = p->Decode(p->Encode(next));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(p->Encode(*back), p->Encode(next));
    page.count_ = 0;
    Step(*p, next, page, &exhausted);
    EXPECT_TRUE(exhausted);
    EXPECT_EQ(p->Decode("abc").status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(p->Decode("abc").status().message()), HasSubstr(std::string(p->name())));
  }
  auto page_style = Make(HttpPaging::kPage);
  EXPECT_EQ(page_style->Encode(page_style->First()), "1");
  FakePage page;
  page.count_ = 10;
  bool exhausted;
  EXPECT_EQ(Step(*page_style, page_style->First(), page, &exhausted).page, 2);
  auto offset = Make(HttpPaging::kOffset);
  EXPECT_EQ(Step(*offset, offset->First(), page, &exhausted).offset, 10);
  auto strict = Make(HttpPaging::kOffset, 10, /*short_page_ends=*/true);
  page.count_ = 9;
  Step(*strict, strict->First(), page, &exhausted);
  EXPECT_TRUE(exhausted);
}

TEST(PaginatorTest, TokenStylesFollowWhatTheServerNames) {
  auto cursor = Make(HttpPaging::kCursor);
  FakePage page;
  page.body_["/next"] = "tok2";
  bool exhausted;
  PagePosition next = Step(*cursor, cursor->First(), page, &exhausted);
  EXPECT_FALSE(exhausted);
  EXPECT_EQ(cursor->Encode(next), "tok2");
  EXPECT_TRUE(cursor->server_names_next());
  EXPECT_EQ(cursor->RequestUrl(next), "");  // the template, with {cursor}
  page.body_["/next"] = "";
  Step(*cursor, next, page, &exhausted);
  EXPECT_TRUE(exhausted);

  auto header = Make(HttpPaging::kCursorHeader);
  page.headers_["x-next"] = "h2";
  EXPECT_EQ(Step(*header, header->First(), page, &exhausted).token, "h2");
  page.headers_.clear();
  Step(*header, header->First(), page, &exhausted);
  EXPECT_TRUE(exhausted);

  // URLs: resolved against the page's, requested as given, stored without the credential.
  auto next_url = Make(HttpPaging::kNextUrl);
  page.body_["/next"] = "/v1/items?page=2&api_key=s3cret";
  next = Step(*next_url, next_url->First(), page, &exhausted);
  EXPECT_EQ(next_url->RequestUrl(next), "https://api.example/v1/items?page=2&api_key=s3cret");
  EXPECT_EQ(next_url->Encode(next), "https://api.example/v1/items?page=2");
  EXPECT_EQ(next_url->RequestUrl(next_url->First()), "");

  auto link = Make(HttpPaging::kLink);
  page.headers_["link"] =
      R"(<https://api.example/v1/items?page=1>; rel="prev", <https://api.example/v1/items?page=3>; rel="next last")";
  next = Step(*link, link->First(), page, &exhausted);
  EXPECT_FALSE(exhausted);
  EXPECT_EQ(link->RequestUrl(next), "https://api.example/v1/items?page=3");
  page.headers_["link"] = R"(<https://api.example/v1/items?page=1>; rel="prev")";
  Step(*link, next, page, &exhausted);
  EXPECT_TRUE(exhausted);
}

TEST(PaginatorTest, KeysetCarriesTimeAndIdAndRefusesAServerThatIgnoresIt) {
  auto keyset = Make(HttpPaging::kKeyset);
  EXPECT_EQ(keyset->Encode(keyset->First()), "");
  FakePage page;
  page.count_ = 2;
  page.last_["/t"] = "2026-11-14T00:00:05Z";
  page.last_["/id"] = "b";
  bool exhausted;
  absl::Status s;
  PagePosition next = Step(*keyset, keyset->First(), page, &exhausted, &s);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(next.after_time, "2026-11-14T00:00:05Z");
  EXPECT_EQ(next.after_id, "b");
  absl::StatusOr<PagePosition> back = keyset->Decode(keyset->Encode(next));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->after_id, "b");
  // The same last record again: the server ignores the keyset.
  Step(*keyset, next, page, &exhausted, &s);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ignores the keyset"));
  page.last_.erase("/id");
  Step(*keyset, keyset->First(), page, &exhausted, &s);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no keyset id at \"/id\""));
  page.count_ = 0;
  Step(*keyset, next, page, &exhausted, &s);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(exhausted);
  EXPECT_EQ(keyset->Decode("7").status().code(), absl::StatusCode::kDataLoss);
}

TEST(PaginatorTest, GraphqlFollowsTheEndCursorWhileTheHasNextFlagIsTrue) {
  auto p = Make(HttpPaging::kGraphql);
  EXPECT_EQ(p->name(), "graphql");
  EXPECT_TRUE(p->server_names_next());
  FakePage page;
  page.count_ = 10;
  page.body_ = {{"/next", "Y3Vyc29yOjEw"}, {"/more", "true"}};
  bool exhausted = true;
  PagePosition next = Step(*p, p->First(), page, &exhausted);
  EXPECT_FALSE(exhausted);
  EXPECT_EQ(p->Encode(next), "Y3Vyc29yOjEw");
  // A false flag ends the shard even with a cursor (servers send the last one again).
  page.body_["/more"] = "false";
  Step(*p, next, page, &exhausted);
  EXPECT_TRUE(exhausted);
  // A true flag without a cursor, or no flag at all, is an error naming the pointer.
  absl::Status status;
  page.body_ = {{"/more", "true"}};
  Step(*p, next, page, &exhausted, &status);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no cursor at \"/next\""));
  page.body_ = {{"/next", "abc"}};
  Step(*p, next, page, &exhausted, &status);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no true or false at \"/more\""));
}

TEST(PaginatorTest, NextLinkReadsRfc8288) {
  EXPECT_EQ(NextLink(R"(<https://x/a?p=2>; rel="next")"), "https://x/a?p=2");
  EXPECT_EQ(NextLink(R"(<https://x/1>; rel=prev, <https://x/3>; rel=next)"), "https://x/3");
  EXPECT_EQ(NextLink(R"(<https://x/1>; rel="prev")"), "");
  EXPECT_EQ(NextLink("garbage"), "");
}

}  // namespace
}  // namespace recovery
