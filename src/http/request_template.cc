#include "http/request_template.h"

#include "json/json_writer.h"

namespace recovery {
namespace {

bool IsNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The placeholders of one JSON string's content (escaped as it stands in the
// JSON text), each value escaped for a JSON string.
void RenderStringContent(std::string_view content, const TemplateValues& values, std::string* out) {
  size_t pos = 0;
  while (pos < content.size()) {
    const size_t open = content.find('{', pos);
    const size_t close = open == std::string_view::npos ? open : content.find('}', open);
    if (close == std::string_view::npos) break;
    out->append(content.substr(pos, open - pos));
    auto it = values.find(content.substr(open + 1, close - open - 1));
    if (it != values.end()) {
      std::string quoted;
      AppendJsonStringLossy(it->second, &quoted);
      out->append(quoted, 1, quoted.size() - 2);  // without its quotes
      pos = close + 1;
    } else {
      out->push_back('{');  // not a placeholder: a brace of the text; look again after it
      pos = open + 1;
    }
  }
  if (pos < content.size()) out->append(content.substr(pos));
}

}  // namespace

std::string RenderTemplate(std::string_view text, const TemplateValues& values) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find('{', pos);
    const size_t close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    auto it = values.find(text.substr(open + 1, close - open - 1));
    if (it != values.end()) {
      out.append(it->second);
    } else {
      out.append(text.substr(open, close - open + 1));
    }
    pos = close + 1;
  }
  if (pos < text.size()) out.append(text.substr(pos));
  return out;
}

std::string RenderJsonTemplate(std::string_view json, const TemplateValues& values,
                               const std::set<std::string_view>& numeric,
                               const std::set<std::string_view>& raw) {
  std::string out;
  out.reserve(json.size() + 64);
  size_t pos = 0;
  while (pos < json.size()) {
    const size_t quote = json.find('"', pos);
    if (quote == std::string_view::npos) break;
    out.append(json.substr(pos, quote - pos));
    size_t end = quote + 1;  // the closing quote: the first one no backslash escapes
    while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    if (end >= json.size()) {  // not valid JSON after all: leave the rest alone
      pos = quote;
      break;
    }
    const std::string_view content = json.substr(quote + 1, end - quote - 1);
    auto whole = content.size() > 2 && content.front() == '{' && content.back() == '}'
                     ? values.find(content.substr(1, content.size() - 2))
                     : values.end();
    if (whole != values.end()) {
      const std::string& v = whole->second;
      if (v.empty()) {
        out.append("null");
      } else if (raw.count(whole->first) > 0 || (numeric.count(whole->first) > 0 && IsNumber(v))) {
        out.append(v);
      } else {
        AppendJsonStringLossy(v, &out);
      }
    } else {
      out.push_back('"');
      RenderStringContent(content, values, &out);
      out.push_back('"');
    }
    pos = end + 1;
  }
  if (pos < json.size()) out.append(json.substr(pos));
  return out;
}

}  // namespace recovery
