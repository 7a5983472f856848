#include "json/spec_reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

SpecObject::SpecObject(simdjson::dom::element value, std::string path, SpecErrors* errors)
    : path_(std::move(path)), errors_(errors) {
  if (value.get_object().get(object_) != simdjson::SUCCESS) {
    errors_->Add(path_.empty() ? "(top level)" : path_, StrCat("expected object, got ", DescribeJson(value)));
    return;
  }
  valid_ = true;
  // JSON allows a key twice; a config never means it (only one would count).
  std::vector<std::string_view> keys;
  for (auto field : object_) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i] == keys[i - 1] && (i == 1 || keys[i - 2] != keys[i])) {
      errors_->Add(PathOf(keys[i]), "duplicate key: given more than once");
    }
  }
}

std::string SpecObject::PathOf(std::string_view key) const {
  return path_.empty() ? std::string(key) : StrCat(path_, ".", key);
}

void SpecObject::Error(std::string_view key, std::string_view message) { errors_->Add(PathOf(key), message); }

bool SpecObject::Has(std::string_view key) const {
  if (!valid_) return false;
  simdjson::dom::element e;
  return object_[key].get(e) == simdjson::SUCCESS;
}

std::optional<simdjson::dom::element> SpecObject::Lookup(std::string_view key, bool required) {
  if (!valid_) return std::nullopt;
  seen_.emplace_back(key);
  simdjson::dom::element e;
  if (object_[key].get(e) != simdjson::SUCCESS) {
    if (required) Error(key, "required but missing");
    return std::nullopt;
  }
  return e;
}

std::optional<simdjson::dom::element> SpecObject::Value(std::string_view key, bool required) {
  return Lookup(key, required);
}

std::optional<std::string> SpecObject::String(std::string_view key, bool required) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s) != simdjson::SUCCESS) {
    Error(key, StrCat("expected string, got ", DescribeJson(*e)));
    return std::nullopt;
  }
  return std::string(s);
}

std::optional<int64_t> SpecObject::Int(std::string_view key, bool required, int64_t min, int64_t max) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  int64_t v;
  if (e->get_int64().get(v) != simdjson::SUCCESS) {
    Error(key, StrCat("expected integer, got ", DescribeJson(*e)));
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(key, StrCat("must be between ", min, " and ", max, ", got ", v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> SpecObject::Double(std::string_view key, bool required, double min, double max) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  double v;
  if (e->get_double().get(v) != simdjson::SUCCESS) {
    Error(key, StrCat("expected number, got ", DescribeJson(*e)));
    return std::nullopt;
  }
  if (!(v >= min && v <= max)) {
    Error(key, StrCat("must be between ", min, " and ", max, ", got ", v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> SpecObject::Bool(std::string_view key, bool required) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  bool v;
  if (e->get_bool().get(v) != simdjson::SUCCESS) {
    Error(key, StrCat("expected true or false, got ", DescribeJson(*e)));
    return std::nullopt;
  }
  return v;
}

std::optional<absl::Time> SpecObject::Time(std::string_view key, bool required) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  std::string_view s;
  std::optional<absl::Time> t;
  if (e->get_string().get(s) == simdjson::SUCCESS) t = ParseRfc3339(s);
  if (!t) {
    Error(key, StrCat("expected an RFC 3339 time such as \"2026-11-14T00:00:00Z\", got ", DescribeJson(*e)));
  }
  return t;
}

std::optional<absl::Duration> SpecObject::Duration(std::string_view key, bool required, absl::Duration min) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  std::string_view s;
  std::optional<absl::Duration> d;
  if (e->get_string().get(s) == simdjson::SUCCESS) d = ParseDurationText(s);
  if (!d) {
    Error(key, StrCat("expected a duration such as \"250ms\", \"30s\", \"1h30m\" or \"2d\", got ",
                      DescribeJson(*e)));
    return std::nullopt;
  }
  if (*d < min) {
    Error(key, StrCat("must be at least ", absl::FormatDuration(min), ", got ", s));
    return std::nullopt;
  }
  return d;
}

std::optional<int> SpecObject::Enum(std::string_view key, bool required,
                                    const std::vector<std::string_view>& choices) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s) == simdjson::SUCCESS) {
    for (size_t i = 0; i < choices.size(); ++i) {
      if (choices[i] == s) return static_cast<int>(i);
    }
  }
  Error(key, StrCat("expected one of \"", Join(choices, "\", \""), "\", got ", DescribeJson(*e)));
  return std::nullopt;
}

std::optional<SpecObject> SpecObject::Object(std::string_view key, bool required) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  SpecObject child(*e, PathOf(key), errors_);
  if (!child.valid()) return std::nullopt;
  return child;
}

std::vector<std::pair<std::string, std::string>> SpecObject::StringMap(std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  auto e = Lookup(key, false);
  if (!e) return out;
  simdjson::dom::object object;
  if (e->get_object().get(object) != simdjson::SUCCESS) {
    Error(key, StrCat("expected object, got ", DescribeJson(*e)));
    return out;
  }
  for (auto field : object) {
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) {
      errors_->Add(StrCat(PathOf(key), ".", field.key),
                   StrCat("expected string, got ", DescribeJson(field.value)));
      continue;
    }
    out.emplace_back(std::string(field.key), std::string(value));
  }
  return out;
}

std::optional<simdjson::dom::array> SpecObject::Array(std::string_view key, bool required) {
  auto e = Lookup(key, required);
  if (!e) return std::nullopt;
  simdjson::dom::array a;
  if (e->get_array().get(a) != simdjson::SUCCESS) {
    Error(key, StrCat("expected array, got ", DescribeJson(*e)));
    return std::nullopt;
  }
  return a;
}

void SpecObject::Finish() {
  if (!valid_ || skip_unread_) return;
  for (auto field : object_) {
    std::string_view key = field.key;
    if (std::find(seen_.begin(), seen_.end(), key) != seen_.end()) continue;
    std::string message = "unknown key";
    std::string_view best;
    size_t best_distance = 3;  // suggest only close matches
    for (const std::string& known : seen_) {
      size_t d = EditDistance(key, known);
      if (d < best_distance) {
        best_distance = d;
        best = known;
      }
    }
    if (!best.empty()) StrAppend(&message, " (did you mean \"", best, "\"?)");
    Error(key, message);
  }
}

}  // namespace recovery
