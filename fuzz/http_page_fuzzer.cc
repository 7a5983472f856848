// Any bytes as an API answer, parsed by the HTTP source under each pagination
// style: records and a next cursor, or a clear error; never a crash. The first
// byte picks the style; the first line after it is the value of every header
// the styles read (Link, X-Next-Cursor, X-Total-Count); the rest is the body.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "http/http_source.h"
#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "simdjson.h"
#include "spec/http_section.h"

namespace {

constexpr const char* kPaging[] = {
    R"({"type":"page"})",
    R"({"type":"offset","short_page_ends":true})",
    R"({"type":"cursor","from":"/next"})",
    R"({"type":"cursor_header","header":"X-Next-Cursor"})",
    R"({"type":"link"})",
    R"({"type":"next_url","from":"/links/next"})",
    R"({"type":"keyset","time":"/t","id":"/id"})",
    R"({"type":"graphql","cursor":"/page/end","has_next":"/page/more"})",
};

std::unique_ptr<recovery::Source> Build(int style) {
  const std::string section =
      std::string(
          R"({"type":"http","url":"http://127.0.0.1:9/v1/x","records":"/data",)"
          R"("query":{"page":"{page}","offset":"{offset}","cursor":"{cursor}","after":"{after_time}"},)"
          R"("total":{"header":"X-Total-Count"},)") +
      (style == 6 ? "" : R"("sorted_by":{"from":"/t"},)") + R"("pagination":)" + kPaging[style] + "}";
  simdjson::dom::parser parser;
  recovery::SpecErrors errors;
  recovery::SpecObject o(parser.parse(section).value(), "source", &errors);
  o.String("type");
  recovery::JobSpec spec;
  std::unique_ptr<recovery::Source> source =
      recovery::BuildHttpSource(recovery::ReadHttpSource(o, spec), o.path(), o.errors());
  o.Finish();
  if (source == nullptr || !errors.empty()) {  // the fixed specs are valid
    for (const std::string& e : errors.list()) std::fprintf(stderr, "%s\n", e.c_str());
    __builtin_trap();
  }
  return source;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int kStyles = sizeof kPaging / sizeof kPaging[0];
  static std::vector<std::unique_ptr<recovery::Source>> sources = [] {
    std::vector<std::unique_ptr<recovery::Source>> v;
    for (int i = 0; i < kStyles; ++i) v.push_back(Build(i));
    return v;
  }();
  if (size == 0) return 0;
  const int style = data[0] % kStyles;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nl = rest.find('\n');
  const std::string header(nl == std::string_view::npos ? std::string_view() : rest.substr(0, nl));
  const std::string_view body = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"link", header}, {"x-next-cursor", header}, {"x-total-count", header}};
  const recovery::Shard shard{"s", 0, absl::FromUnixSeconds(1763078400), absl::FromUnixSeconds(1763164800)};
  recovery::Page page;
  absl::Status s = recovery::ParseHttpPageForTesting(*sources[style], shard, body, headers, &page);
  if (!s.ok() && s.message().empty()) __builtin_trap();  // every error says what was wrong
  return 0;
}
