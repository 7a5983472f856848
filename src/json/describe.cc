#include "json/describe.h"

namespace recovery {

std::string DescribeJson(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    default: {
      std::string text = simdjson::minify(value);
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      return text;
    }
  }
}

}  // namespace recovery
