#include "http/paginator.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "http/http_client.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {

absl::StatusOr<PagePosition> Paginator::Decode(std::string_view cursor) const {
  PagePosition p = First();
  p.started = true;
  p.token = std::string(cursor);
  return p;
}

absl::StatusOr<PagePosition> Paginator::FromOperator(std::string_view) const {
  return absl::InvalidArgumentError(
      StrCat("pagination type \"", name(),
             "\" follows tokens or URLs only the server names: a shard of it cannot be set to a position "
             "(skip it with `recovery state skip`, or start it over with `recovery reset`)"));
}

namespace {

// A whole number at least `min`, or InvalidArgument naming `what`.
absl::StatusOr<int64_t> WholeNumber(std::string_view text, int64_t min, std::string_view what) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(ToAbsl(text), &n) || n < min) {
    return absl::InvalidArgumentError(StrCat("a position of pagination type \"", what,
                                             "\" is a whole number from ", min, ", got \"", text, "\""));
  }
  return n;
}

absl::Status NotACursor(std::string_view style) {
  return absl::DataLossError(
      StrCat("is not a ", style, " cursor; was the pagination type changed? Reset the shard"));
}

// {page} counts up from the first page.
class PagePaginator : public Paginator {
 public:
  PagePaginator(int64_t first, int64_t page_size, bool short_page_ends)
      : first_(first), page_size_(page_size), short_page_ends_(short_page_ends) {}
  PagePosition First() const override {
    PagePosition p;
    p.page = first_;
    return p;
  }
  absl::StatusOr<PagePosition> Decode(std::string_view cursor) const override {
    PagePosition p = First();
    p.started = true;
    if (!absl::SimpleAtoi(ToAbsl(cursor), &p.page)) return NotACursor(name());
    return p;
  }
  std::string Encode(const PagePosition& p) const override { return StrCat(p.page); }
  absl::StatusOr<PagePosition> FromOperator(std::string_view position) const override {
    PagePosition p = First();
    p.started = true;
    RECOVERY_ASSIGN_OR_RETURN(p.page, WholeNumber(position, first_, name()));
    return p;
  }
  absl::Status Advance(const PagePosition& at, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    const int64_t n = page.count();
    next->page = n > 0 ? at.page + 1 : at.page;
    *exhausted = n == 0 || (short_page_ends_ && n < page_size_);  // servers cap page sizes silently
    return absl::OkStatus();
  }
  std::string_view name() const override { return "page"; }

 private:
  const int64_t first_, page_size_;
  const bool short_page_ends_;
};

// {offset} counts records.
class OffsetPaginator : public Paginator {
 public:
  OffsetPaginator(int64_t page_size, bool short_page_ends)
      : page_size_(page_size), short_page_ends_(short_page_ends) {}
  absl::StatusOr<PagePosition> Decode(std::string_view cursor) const override {
    PagePosition p;
    p.started = true;
    if (!absl::SimpleAtoi(ToAbsl(cursor), &p.offset)) return NotACursor(name());
    return p;
  }
  std::string Encode(const PagePosition& p) const override { return StrCat(p.offset); }
  absl::StatusOr<PagePosition> FromOperator(std::string_view position) const override {
    PagePosition p;
    p.started = true;
    RECOVERY_ASSIGN_OR_RETURN(p.offset, WholeNumber(position, 0, name()));
    return p;
  }
  absl::Status Advance(const PagePosition& at, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    const int64_t n = page.count();
    next->offset = at.offset + n;
    *exhausted = n == 0 || (short_page_ends_ && n < page_size_);
    return absl::OkStatus();
  }
  std::string_view name() const override { return "offset"; }

 private:
  const int64_t page_size_;
  const bool short_page_ends_;
};

// A token from the body goes back as {cursor}; or, for next_url, a URL from
// the body is requested as it is.
class BodyTokenPaginator : public Paginator {
 public:
  BodyTokenPaginator(std::string pointer, bool is_url, std::string credential_query_param)
      : pointer_(std::move(pointer)), is_url_(is_url), credential_(std::move(credential_query_param)) {}
  std::string Encode(const PagePosition& p) const override {
    return is_url_ ? RemoveQueryParam(p.token, credential_) : p.token;  // never store a credential
  }
  std::string RequestUrl(const PagePosition& p) const override { return is_url_ && p.started ? p.token : ""; }
  absl::Status Advance(const PagePosition&, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    std::string token;
    *exhausted = !page.BodyText(pointer_, &token) || token.empty();
    if (!*exhausted) next->token = is_url_ ? ResolveUrl(page.url(), token) : token;
    return absl::OkStatus();
  }
  bool server_names_next() const override { return true; }
  std::string_view name() const override { return is_url_ ? "next_url" : "cursor"; }

 private:
  const std::string pointer_;
  const bool is_url_;
  const std::string credential_;
};

// A token in a response header goes back as {cursor}.
class HeaderTokenPaginator : public Paginator {
 public:
  explicit HeaderTokenPaginator(std::string header) : header_(std::move(header)) {}
  absl::Status Advance(const PagePosition&, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    const std::string* h = page.Header(header_);
    *exhausted = h == nullptr || h->empty();
    if (!*exhausted) next->token = *h;
    return absl::OkStatus();
  }
  bool server_names_next() const override { return true; }
  std::string_view name() const override { return "cursor_header"; }

 private:
  const std::string header_;
};

// The rel="next" URL of a Link header is requested as it is.
class LinkPaginator : public Paginator {
 public:
  explicit LinkPaginator(std::string credential_query_param)
      : credential_(std::move(credential_query_param)) {}
  std::string Encode(const PagePosition& p) const override { return RemoveQueryParam(p.token, credential_); }
  std::string RequestUrl(const PagePosition& p) const override { return p.started ? p.token : ""; }
  absl::Status Advance(const PagePosition&, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    const std::string* h = page.Header("link");
    const std::string link = h != nullptr ? NextLink(*h) : "";
    *exhausted = link.empty();
    if (!*exhausted) next->token = ResolveUrl(page.url(), link);
    return absl::OkStatus();
  }
  bool server_names_next() const override { return true; }
  std::string_view name() const override { return "link"; }

 private:
  const std::string credential_;
};

// {after_time} and {after_id} of the last record: ties on the time are
// neither lost nor repeated.
class KeysetPaginator : public Paginator {
 public:
  KeysetPaginator(std::string time, std::string id, const Redactor* redactor)
      : time_(std::move(time)), id_(std::move(id)), redactor_(redactor) {}
  absl::StatusOr<PagePosition> Decode(std::string_view cursor) const override {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    std::string_view t, id;
    if (parser.parse(cursor.data(), cursor.size()).get(e) || e["after_time"].get_string().get(t) ||
        e["after_id"].get_string().get(id)) {
      return NotACursor(name());
    }
    PagePosition p;
    p.started = true;
    p.after_time = std::string(t);
    p.after_id = std::string(id);
    return p;
  }
  // "TIME,ID": the time and id of the record to start after, as the API writes them.
  absl::StatusOr<PagePosition> FromOperator(std::string_view position) const override {
    const size_t comma = position.find(',');
    if (comma == std::string_view::npos || comma == 0 || comma + 1 == position.size()) {
      return absl::InvalidArgumentError(
          StrCat("a position of pagination type \"keyset\" is TIME,ID: the time and id of the record to "
                 "start after, as the API writes them (2026-11-14T03:00:00Z,ord-1234), got \"",
                 position, "\""));
    }
    PagePosition p;
    p.started = true;
    p.after_time = std::string(position.substr(0, comma));
    p.after_id = std::string(position.substr(comma + 1));
    return p;
  }
  std::string Encode(const PagePosition& p) const override {
    if (p.after_time.empty() && p.after_id.empty()) return "";
    std::string out;
    JsonObjectWriter(&out).Str("after_time", p.after_time).Str("after_id", p.after_id).Close();
    return out;
  }
  absl::Status Advance(const PagePosition& at, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    *exhausted = page.count() == 0;
    if (*exhausted) return absl::OkStatus();
    std::string t, id;
    if (!page.LastRecordText(time_, &t)) {
      return absl::FailedPreconditionError(StrCat("the last record has no keyset time at \"", time_, "\""));
    }
    if (!page.LastRecordText(id_, &id)) {
      return absl::FailedPreconditionError(StrCat("the last record has no keyset id at \"", id_, "\""));
    }
    if (t == at.after_time && id == at.after_id) {
      return absl::DataLossError(StrCat("the page ends with the record the request asked to start after (",
                                        redactor_->Redact(id),
                                        "); the server ignores the keyset and following it would loop"));
    }
    next->after_time = std::move(t);
    next->after_id = std::move(id);
    return absl::OkStatus();
  }
  std::string_view name() const override { return "keyset"; }

 private:
  const std::string time_, id_;
  const Redactor* redactor_;
};

// A GraphQL connection: the end cursor goes back as {cursor} while the
// has-next flag is true; false ends the shard, whatever the page held.
class GraphqlPaginator : public Paginator {
 public:
  GraphqlPaginator(std::string cursor, std::string has_next)
      : cursor_(std::move(cursor)), has_next_(std::move(has_next)) {}
  absl::Status Advance(const PagePosition&, PageFacts& page, PagePosition* next,
                       bool* exhausted) const override {
    bool has_next = false;
    if (!page.BodyBool(has_next_, &has_next)) {
      return absl::FailedPreconditionError(
          StrCat("the answer has no true or false at \"", has_next_, "\" (pagination.has_next)"));
    }
    *exhausted = !has_next;
    if (*exhausted) return absl::OkStatus();
    std::string token;
    if (!page.BodyText(cursor_, &token) || token.empty()) {
      return absl::FailedPreconditionError(StrCat(
          "the answer says a next page exists but has no cursor at \"", cursor_, "\" (pagination.cursor)"));
    }
    next->token = std::move(token);
    return absl::OkStatus();
  }
  bool server_names_next() const override { return true; }
  std::string_view name() const override { return "graphql"; }

 private:
  const std::string cursor_, has_next_;
};

}  // namespace

std::unique_ptr<Paginator> NewPaginator(const HttpPagination& o, int64_t page_size,
                                        std::string credential_query_param, const Redactor* redactor) {
  switch (o.type) {
    case HttpPaging::kPage:
      return std::make_unique<PagePaginator>(o.first_page, page_size, o.short_page_ends);
    case HttpPaging::kOffset:
      return std::make_unique<OffsetPaginator>(page_size, o.short_page_ends);
    case HttpPaging::kCursor:
      return std::make_unique<BodyTokenPaginator>(o.cursor_from, false, std::move(credential_query_param));
    case HttpPaging::kNextUrl:
      return std::make_unique<BodyTokenPaginator>(o.cursor_from, true, std::move(credential_query_param));
    case HttpPaging::kCursorHeader:
      return std::make_unique<HeaderTokenPaginator>(o.cursor_header);
    case HttpPaging::kLink:
      return std::make_unique<LinkPaginator>(std::move(credential_query_param));
    case HttpPaging::kKeyset:
      return std::make_unique<KeysetPaginator>(o.keyset_time, o.keyset_id, redactor);
    case HttpPaging::kGraphql:
      return std::make_unique<GraphqlPaginator>(o.cursor_from, o.has_next_from);
  }
  return nullptr;
}

absl::StatusOr<std::string> CursorAtPosition(const HttpPagination& options, std::string_view position) {
  const Redactor none;
  const std::unique_ptr<Paginator> paginator = NewPaginator(options, 1, "", &none);
  RECOVERY_ASSIGN_OR_RETURN(PagePosition p, paginator->FromOperator(position));
  return paginator->Encode(p);
}

std::string NextLink(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    const size_t open = header.find('<', pos);
    if (open == std::string_view::npos) return "";
    const size_t close = header.find('>', open);
    if (close == std::string_view::npos) return "";
    const std::string_view target = header.substr(open + 1, close - open - 1);
    const size_t end = header.find('<', close);
    std::string_view params = header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    const size_t rel = params.find("rel=");
    if (rel != std::string_view::npos) {
      std::string_view value = params.substr(rel + 4);
      value = value.substr(0, value.find(';'));
      std::string v(value);
      v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
      const std::string_view word = v;
      size_t p = 0;
      while (p <= word.size()) {  // rel may list several relations
        size_t space = word.find_first_of(" ,", p);
        if (space == std::string_view::npos) space = word.size();
        if (word.substr(p, space - p) == "next") return std::string(target);
        p = space + 1;
      }
    }
    pos = end == std::string_view::npos ? header.size() : end;
  }
  return "";
}

}  // namespace recovery
