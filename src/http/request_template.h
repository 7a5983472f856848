// Rendering a request's templates: the URL, query values, headers and body
// with their placeholders ({start}, {cursor}, …) replaced by a page's values.
#ifndef RECOVERY_HTTP_REQUEST_TEMPLATE_H_
#define RECOVERY_HTTP_REQUEST_TEMPLATE_H_

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace recovery {

using TemplateValues = std::map<std::string_view, std::string>;

// `text` with every known placeholder replaced by its value as it is; an
// unknown one is left in place.
std::string RenderTemplate(std::string_view text, const TemplateValues& values);

// `json` (valid JSON) with placeholders inside its strings rendered as JSON:
// a string that is one known placeholder alone becomes the value itself,
// null when it is empty, a number when the placeholder is in `numeric` (and
// the value is one), a string otherwise; within a longer string, the value
// is escaped. A placeholder in `raw` alone in a string is pasted as it is (its
// value is JSON already: a record, an array), and the empty value is null;
// within a longer string it is escaped like any other. Braces that name no placeholder (a GraphQL selection
// set) are left as they are. The result is valid JSON: a value that is not valid UTF-8 (none read from a JSON
// answer is) has its invalid bytes replaced.
std::string RenderJsonTemplate(std::string_view json, const TemplateValues& values,
                               const std::set<std::string_view>& numeric,
                               const std::set<std::string_view>& raw = {});

}  // namespace recovery

#endif  // RECOVERY_HTTP_REQUEST_TEMPLATE_H_
