// Any bytes as a JSON body template (up to the first newline) and a value
// (the rest), rendered with every placeholder given that value, or none: a
// template that is valid JSON always renders into valid JSON, whatever the
// value holds (quotes, backslashes, control characters, invalid UTF-8 are
// escaped or replaced), and the text renderer never crashes.
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "http/request_template.h"
#include "simdjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view tmpl = input.substr(0, nl);
  const std::string value(nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1));
  const std::set<std::string_view> numeric = {"limit", "page", "offset"};
  const recovery::TemplateValues values = {{"start", value}, {"end", value},    {"limit", value},
                                           {"page", value},  {"offset", value}, {"cursor", value}};
  (void)recovery::RenderTemplate(tmpl, values);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(tmpl.data(), tmpl.size()).get(root) != simdjson::SUCCESS) return 0;
  for (const recovery::TemplateValues& v :
       {values, recovery::TemplateValues{{"cursor", ""}, {"limit", "50"}}}) {
    const std::string out = recovery::RenderJsonTemplate(tmpl, v, numeric);
    simdjson::dom::parser check;
    if (check.parse(out).get(root) != simdjson::SUCCESS) {
      std::fprintf(stderr, "template %.*s rendered into invalid JSON: %s\n", static_cast<int>(tmpl.size()),
                   tmpl.data(), out.c_str());
      __builtin_trap();
    }
  }
  return 0;
}
