// The HTTP source's claims about its API: the page size it asks for, how its
// paging style expects the last page to look, the order sorted_by or keyset
// promises, whether requests carry the window, whether pages report a total.
#include "http/paging_claims.h"

#include <optional>
#include <string>

#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

namespace od = simdjson::ondemand;

// Whether any template of the request names `placeholder` ("{start}").
bool RequestNames(const HttpConfig& c, std::string_view placeholder) {
  if (c.url.find(placeholder) != std::string::npos || c.body.find(placeholder) != std::string::npos) {
    return true;
  }
  for (const auto& [name, value] : c.query) {
    if (value.find(placeholder) != std::string::npos) return true;
  }
  for (const HttpHeader& h : c.headers) {
    if (h.value.find(placeholder) != std::string::npos) return true;
  }
  return false;
}

std::string LastPageSignal(const HttpConfig& c) {
  const HttpPagination& p = c.pagination;
  switch (p.type) {
    case HttpPaging::kPage:
    case HttpPaging::kOffset:
      return p.short_page_ends ? "a page shorter than page_size" : "an empty page";
    case HttpPaging::kCursor:
      return StrCat("a page without a cursor at ", p.cursor_from);
    case HttpPaging::kCursorHeader:
      return StrCat("a page without the ", p.cursor_header, " header");
    case HttpPaging::kLink:
      return "a page without a Link rel=\"next\" header";
    case HttpPaging::kNextUrl:
      return StrCat("a page without a URL at ", p.cursor_from);
    case HttpPaging::kKeyset:
      return "an empty page";
    case HttpPaging::kGraphql:
      return StrCat("a page whose ", p.has_next_from, " is false");
  }
  return "";
}

// The string or number at `pointer` in `raw`, as text; nullopt when absent.
std::optional<std::string> TextAt(const RawRecord& raw, const std::string& pointer) {
  thread_local od::parser parser;
  od::document doc;
  simdjson::padded_string_view view(raw.data.data(), raw.data.size(), raw.data.size() + kRawRecordPadding);
  if (parser.iterate(view).get(doc)) return std::nullopt;
  od::value v;
  if (doc.at_pointer(pointer).get(v)) return std::nullopt;
  od::json_type type;
  if (v.type().get(type)) return std::nullopt;
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return std::nullopt;
    return std::string(s);
  }
  if (type == od::json_type::number) {
    std::string_view token = v.raw_json_token();
    while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                              token.back() == '\t' || token.back() == ',' || token.back() == '}')) {
      token.remove_suffix(1);
    }
    return std::string(token);
  }
  return std::nullopt;
}

class HttpPagingClaims : public PagingClaims {
 public:
  explicit HttpPagingClaims(const HttpConfig& config) : c_(config) {}

  PagingFacts facts() const override {
    PagingFacts f;
    f.page_size = RequestNames(c_, "{limit}") ? c_.page_size : 0;
    f.short_page_ends = c_.pagination.short_page_ends && (c_.pagination.type == HttpPaging::kPage ||
                                                          c_.pagination.type == HttpPaging::kOffset);
    f.last_page_signal = LastPageSignal(c_);
    f.filters_by_window = RequestNames(c_, "{start}") || RequestNames(c_, "{end}");
    f.sorted = !c_.sorted_pointer.empty();
    f.keyset = c_.pagination.type == HttpPaging::kKeyset;
    f.sorted_by = c_.sorted_pointer;
    f.reports_total = !c_.total_header.empty() || !c_.total_pointer.empty();
    f.requests_per_second = c_.rate;
    return f;
  }

  std::optional<absl::Time> SortTimeOf(const RawRecord& raw) const override {
    if (c_.sorted_pointer.empty()) return std::nullopt;
    std::optional<std::string> text = TextAt(raw, c_.sorted_pointer);
    if (!text) return std::nullopt;
    switch (c_.sorted_format) {
      case HttpTimeFormat::kRfc3339:
        return ParseRfc3339(*text);
      case HttpTimeFormat::kEpochSeconds:
        return ParseEpoch(*text, EpochUnit::kSeconds);
      case HttpTimeFormat::kEpochMillis:
        return ParseEpoch(*text, EpochUnit::kMilliseconds);
    }
    return std::nullopt;
  }

  std::string SortIdOf(const RawRecord& raw) const override {
    if (c_.pagination.type != HttpPaging::kKeyset) return {};
    return TextAt(raw, c_.pagination.keyset_id).value_or("");
  }

 private:
  const HttpConfig& c_;
};

}  // namespace

std::unique_ptr<PagingClaims> NewHttpPagingClaims(const HttpConfig& config) {
  return std::make_unique<HttpPagingClaims>(config);
}

}  // namespace recovery
