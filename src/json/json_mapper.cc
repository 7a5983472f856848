// The declarative JSON mapper. Each record is parsed once with simdjson
// On-Demand: the configured JSON pointers form a trie that is matched in one
// forward pass, capturing each wanted value into a slot; unwanted values are
// skipped without being materialized. Output fields are then written in spec
// order from the slots.
#include "json/json_mapper.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "json/describe.h"
#include "json/json_writer.h"
#include "json/record_walker.h"
#include "simdjson.h"
#include "util/hash.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using FieldType = JsonFieldType;
const std::vector<std::string_view> kTypeNames = {"string",  "int64",     "double", "bool",
                                                  "decimal", "timestamp", "json"};

using TimeFormat = JsonTimeFormat;
const std::vector<std::string_view> kTimeFormats = {"rfc3339", "epoch_s", "epoch_ms", "epoch_us"};

using walk::Kind;
using walk::PathNode;
using walk::Slot;

struct FieldSpec {
  std::string name;
  std::string pointer;
  std::string key_json;  // "\"name\":" ready to append
  FieldType type = FieldType::kString;
  TimeFormat format = TimeFormat::kRfc3339;
  char decimal_point = '.';  // in decimals kept as strings; ',' with decimal_comma
  bool required = false;
  int slot = -1;             // -1 for constants
  std::string literal_json;  // the constant, or the default when has_literal
  bool has_literal = false;
};

struct ValueRef {  // a pointer consumed by the key or the event time
  std::string pointer;
  int slot = -1;
};

// Per-thread scratch, reused by every record the thread maps.
struct Scratch {
  std::vector<Slot> slots;
  std::string out;
  std::string key;
  simdjson::dom::parser json_values;  // validates "json" fields
  // The record's event time as read (-1: none), for a timestamp field of
  // the same value and format.
  int event_time_slot = -1;
  TimeFormat event_time_format = TimeFormat::kRfc3339;
  absl::Time event_time;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

std::string Describe(const Slot& s) {
  switch (s.kind) {
    case Kind::kMissing:
      return "nothing";
    case Kind::kObject:
      return "an object";
    case Kind::kArray:
      return "an array";
    case Kind::kString: {
      std::string out;
      AppendJsonString(s.text.substr(0, 60), &out);
      if (s.text.size() > 60) out.insert(out.size() - 1, "...");
      return out;
    }
    default:
      return std::string(s.text.substr(0, 60));
  }
}

bool ParseInt64(std::string_view text, int64_t* v) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool ParseDouble(std::string_view text, double* v) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty() && std::isfinite(*v);
}

// -?digits(.digits)? : what a decimal kept as a string may look like, with
// `point` for the '.'.
bool IsPlainDecimal(std::string_view s, char point = '.') {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < s.size() && s[i] == point) {
    ++i;
    size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac;
    if (frac == 0) return false;
  }
  return i == s.size();
}

std::optional<absl::Time> ParseTimeValue(const Slot& s, TimeFormat format) {
  if (format == TimeFormat::kRfc3339) {
    if (s.kind != Kind::kString) return std::nullopt;
    return ParseRfc3339(s.text);
  }
  if (s.kind != Kind::kString && s.kind != Kind::kNumber) return std::nullopt;
  EpochUnit unit = format == TimeFormat::kEpochSeconds  ? EpochUnit::kSeconds
                   : format == TimeFormat::kEpochMillis ? EpochUnit::kMilliseconds
                                                        : EpochUnit::kMicroseconds;
  return ParseEpoch(s.text, unit);
}

// RFC 6901: "/a/b~1c" -> {"a", "b/c"}; "" is the whole document.
bool SplitPointer(std::string_view pointer, std::vector<std::string>* tokens) {
  tokens->clear();
  if (pointer.empty()) return true;
  if (pointer[0] != '/') return false;
  size_t pos = 1;
  while (true) {
    size_t next = pointer.find('/', pos);
    std::string_view raw =
        pointer.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~') {
        if (i + 1 >= raw.size() || (raw[i + 1] != '0' && raw[i + 1] != '1')) return false;
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        token.push_back(raw[i]);
      }
    }
    tokens->push_back(std::move(token));
    if (next == std::string_view::npos) return true;
    pos = next + 1;
  }
}

// The shortest form of `v` that reads back the same.
void AppendDouble(double v, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  // The shortest form of a large whole number has no '.' or exponent
  // ("150011111111111114752"), and JSON readers take such a token for an
  // integer that overflows 64 bits: write it with an exponent instead.
  if (std::abs(v) >= 1e18 && std::find_if(buf, end, [](char c) { return c == '.' || c == 'e'; }) == end) {
    end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
  }
  out->append(buf, end);
}

class JsonMapper : public Mapper {
 public:
  JsonMapper() { nodes_.emplace_back(); }  // the root

  // Registers `pointer` and returns its slot; -1 with `error` set when the
  // pointer is malformed or conflicts with another.
  // AddPointer, with a failure added to `errors` under `path`.
  int AddPointerOrError(std::string_view pointer, const std::string& path, FieldErrors* errors) {
    std::string error;
    const int slot = AddPointer(pointer, &error);
    if (slot < 0) errors->Add(path, error);
    return slot;
  }

  int AddPointer(std::string_view pointer, std::string* error) {
    std::vector<std::string> tokens;
    if (!SplitPointer(pointer, &tokens)) {
      *error = StrCat("\"", pointer, "\" is not a JSON pointer (RFC 6901: \"\" or \"/a/b\")");
      return -1;
    }
    if (tokens.empty()) {  // the whole record
      if (whole_slot_ < 0) whole_slot_ = slot_count_++;
      return whole_slot_;
    }
    int node = 0;
    for (const std::string& token : tokens) {
      if (nodes_[node].slot >= 0) {
        *error = StrCat("\"", pointer, "\" lies inside a value another field captures whole");
        return -1;
      }
      int child = -1;
      for (int c : nodes_[node].children) {
        if (nodes_[c].key == token) child = c;
      }
      if (child < 0) {
        PathNode n;
        n.key = token;
        int64_t index;
        if (!token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
            (token.size() == 1 || token[0] != '0') && ParseInt64(token, &index)) {
          n.index = index;
        }
        child = static_cast<int>(nodes_.size());
        nodes_.push_back(std::move(n));
        nodes_[node].children.push_back(child);
      }
      node = child;
    }
    if (!nodes_[node].children.empty()) {
      *error = StrCat("\"", pointer, "\" contains values other fields capture; capture those instead");
      return -1;
    }
    if (nodes_[node].slot < 0) nodes_[node].slot = slot_count_++;
    return nodes_[node].slot;
  }

  absl::Time EventTimeOf(const RawRecord& raw) const override {
    if (event_time_.slot < 0 || raw.data.size() > max_record_bytes_) return kUnknownEventTime;
    Scratch& s = ThreadScratch();
    s.slots.assign(slot_count_, Slot{});
    if (whole_slot_ >= 0) s.slots[whole_slot_] = Slot{Kind::kObject, raw.data};
    const char* error = nullptr;
    if (kernel_.walk(raw.data, nodes_, s.slots, &error) != walk::Result::kOk) return kUnknownEventTime;
    return ParseTimeValue(s.slots[event_time_.slot], event_time_format_).value_or(kUnknownEventTime);
  }

  std::string KeyOf(const RawRecord& raw) const override {
    if (raw.data.size() > max_record_bytes_) return {};
    Scratch& s = ThreadScratch();
    s.slots.assign(slot_count_, Slot{});
    if (whole_slot_ >= 0) s.slots[whole_slot_] = Slot{Kind::kObject, raw.data};
    const char* error = nullptr;
    std::string reason;
    if (kernel_.walk(raw.data, nodes_, s.slots, &error) != walk::Result::kOk || !BuildKey(raw, s, &reason))
      return {};
    return s.key;
  }

  MapOutcome Map(const RawRecord& raw, const Shard& shard, RecordBatch* out,
                 std::string* reason) const override {
    if (raw.data.size() > max_record_bytes_) {
      *reason = StrCat("record is ", raw.data.size(), " bytes, over mapper.max_record_bytes (",
                       max_record_bytes_, ")");
      return MapOutcome::kRejected;
    }
    Scratch& s = ThreadScratch();
    s.slots.assign(slot_count_, Slot{});
    if (whole_slot_ >= 0) s.slots[whole_slot_] = Slot{Kind::kObject, raw.data};
    const char* error = nullptr;
    switch (kernel_.walk(raw.data, nodes_, s.slots, &error)) {
      case walk::Result::kOk:
        break;
      case walk::Result::kNotObject:
        *reason = "record is not a JSON object";
        return MapOutcome::kRejected;
      case walk::Result::kInvalidUtf8:
        *reason = "record is not valid UTF-8";
        return MapOutcome::kRejected;
      case walk::Result::kInvalidJson:
        *reason = StrCat("invalid JSON: ", error);
        return MapOutcome::kRejected;
    }

    absl::Time event_time = kUnknownEventTime;
    if (!ReadEventTime(s, &event_time, reason) || !BuildKey(raw, s, reason)) return MapOutcome::kRejected;

    s.out.clear();
    s.out.push_back('{');
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0) s.out.push_back(',');
      if (!WriteField(fields_[i], s, reason)) return MapOutcome::kRejected;
    }
    s.out.push_back('}');
    out->Add(s.key, event_time, s.out, raw.maybe_redelivered);
    return MapOutcome::kEmitted;
  }

  std::vector<FieldSpec> fields_;
  std::vector<ValueRef> key_;
  ValueRef event_time_;
  TimeFormat event_time_format_ = TimeFormat::kRfc3339;
  size_t max_record_bytes_ = 16u << 20;

 private:
  // The record's event time, when the mapping reads one, into `event_time`.
  bool ReadEventTime(Scratch& s, absl::Time* event_time, std::string* reason) const {
    s.event_time_slot = -1;
    if (event_time_.slot >= 0) {
      const Slot& slot = s.slots[event_time_.slot];
      if (slot.kind == Kind::kMissing || slot.kind == Kind::kNull) {
        *reason = StrCat("event_time (", event_time_.pointer, "): required but ",
                         slot.kind == Kind::kNull ? "null" : "missing");
        return false;
      }
      std::optional<absl::Time> t = ParseTimeValue(slot, event_time_format_);
      if (!t) {
        *reason = StrCat("event_time (", event_time_.pointer, "): expected ",
                         kTimeFormats[static_cast<int>(event_time_format_)], " time, got ", Describe(slot));
        return false;
      }
      *event_time = *t;
      s.event_time_slot = event_time_.slot;
      s.event_time_format = event_time_format_;
      s.event_time = *t;
    }
    return true;
  }

  // The record's key into s.key: the captured parts joined by '|', or a hash
  // of the whole record when the mapping names no key.
  bool BuildKey(const RawRecord& raw, Scratch& s, std::string* reason) const {
    s.key.clear();
    if (key_.empty()) {
      s.key = StableHash128Hex(raw.data);
    } else {
      for (size_t i = 0; i < key_.size(); ++i) {
        const Slot& slot = s.slots[key_[i].slot];
        if (slot.kind != Kind::kString && slot.kind != Kind::kNumber && slot.kind != Kind::kBool) {
          *reason = StrCat("key (", key_[i].pointer, "): expected a string or number, got ",
                           slot.kind == Kind::kMissing ? "nothing (missing)" : Describe(slot));
          return false;
        }
        if (i > 0) s.key.push_back('|');
        if (key_.size() == 1) {
          s.key.append(slot.text);
        } else {  // escape the separator so different parts never join alike
          for (char c : slot.text) {
            if (c == '|' || c == '\\') s.key.push_back('\\');
            s.key.push_back(c);
          }
        }
      }
    }
    return true;
  }

  // A json field: a string as it is, anything else checked, then minified.
  static bool WriteJson(const FieldSpec& f, const Slot& slot, Scratch& s, std::string* reason) {
    if (slot.kind == Kind::kString) {
      AppendJsonString(slot.text, &s.out);
      return true;
    }
    // On-Demand checks only what it visits: the raw text of a value it
    // skipped may be malformed (`[1t]`), so it is parsed before it is copied.
    simdjson::dom::element value;
    if (auto err = s.json_values.parse(slot.text.data(), slot.text.size()).get(value)) {
      *reason = StrCat("field ", f.name, " (", f.pointer, "): expected json, got ", Describe(slot), " that ",
                       err == simdjson::DEPTH_ERROR
                           ? "nests deeper than 1024 levels"
                           : StrCat("is not valid JSON (", simdjson::error_message(err), ")"));
      return false;
    }
    s.out.append(simdjson::minify(value));
    return true;
  }

  bool WriteField(const FieldSpec& f, Scratch& s, std::string* reason) const {
    s.out.append(f.key_json);
    if (f.slot < 0) {
      s.out.append(f.literal_json);
      return true;
    }
    const Slot& slot = s.slots[f.slot];
    if (slot.kind == Kind::kMissing || slot.kind == Kind::kNull) {
      if (f.required) {
        *reason = StrCat("field ", f.name, " (", f.pointer, "): required but ",
                         slot.kind == Kind::kNull ? "null" : "missing");
        return false;
      }
      s.out.append(f.has_literal ? std::string_view(f.literal_json) : std::string_view("null"));
      return true;
    }
    return WriteValue(f, slot, s, reason);
  }

  // A present value as the field's type, or false with why it is not one.
  static bool WriteValue(const FieldSpec& f, const Slot& slot, Scratch& s, std::string* reason) {
    auto mismatch = [&](std::string_view expected) {
      *reason = StrCat("field ", f.name, " (", f.pointer, "): expected ", expected, ", got ", Describe(slot));
      return false;
    };
    switch (f.type) {
      case FieldType::kString:
        if (slot.kind == Kind::kObject || slot.kind == Kind::kArray) return mismatch("string");
        AppendJsonString(slot.text, &s.out);
        return true;
      case FieldType::kInt64: {
        int64_t v;
        if ((slot.kind != Kind::kNumber && slot.kind != Kind::kString) || !ParseInt64(slot.text, &v)) {
          return mismatch("int64");
        }
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        s.out.append(buf, end);
        return true;
      }
      case FieldType::kDouble: {
        double v;
        if ((slot.kind != Kind::kNumber && slot.kind != Kind::kString) || !ParseDouble(slot.text, &v)) {
          return mismatch("double");
        }
        AppendDouble(v, &s.out);
        return true;
      }
      case FieldType::kBool:
        if (slot.kind == Kind::kBool ||
            (slot.kind == Kind::kString && (slot.text == "true" || slot.text == "false"))) {
          s.out.append(slot.text);
          return true;
        }
        return mismatch("bool");
      case FieldType::kDecimal:
        if (slot.kind == Kind::kNumber ||
            (slot.kind == Kind::kString && IsPlainDecimal(slot.text, f.decimal_point))) {
          s.out.push_back('"');
          const size_t at = s.out.size();
          s.out.append(slot.text);
          if (slot.kind == Kind::kString && f.decimal_point != '.')
            std::replace(s.out.begin() + static_cast<std::ptrdiff_t>(at), s.out.end(), f.decimal_point, '.');
          s.out.push_back('"');
          return true;
        }
        return mismatch("decimal");
      case FieldType::kTimestamp: {
        // The event time's own value is parsed once (same slot, same format).
        std::optional<absl::Time> t = f.slot == s.event_time_slot && f.format == s.event_time_format
                                          ? std::optional<absl::Time>(s.event_time)
                                          : ParseTimeValue(slot, f.format);
        if (!t) return mismatch(StrCat(kTimeFormats[static_cast<int>(f.format)], " time"));
        s.out.push_back('"');
        if (slot.kind == Kind::kString && f.format == TimeFormat::kRfc3339 && IsCanonicalRfc3339(slot.text)) {
          s.out.append(slot.text);  // already as it would be written
        } else {
          AppendRfc3339(*t, &s.out);
        }
        s.out.push_back('"');
        return true;
      }
      case FieldType::kJson:
        return WriteJson(f, slot, s, reason);
    }
    return false;
  }

  const walk::Kernel& kernel_ = walk::BestKernel();
  std::vector<PathNode> nodes_;
  int slot_count_ = 0;
  int whole_slot_ = -1;
};

// Renders a constant or default for `type`; empty with an error when it does not fit.
std::string RenderLiteral(simdjson::dom::element value, FieldType type, bool is_const,
                          const std::string& path, FieldErrors* errors) {
  std::string minified = simdjson::minify(value);
  if (is_const || type == FieldType::kJson) return minified;
  auto bad = [&] {
    errors->Add(
        path, StrCat("expected a ", kTypeNames[static_cast<int>(type)], " value, got ", DescribeJson(value)));
    return std::string();
  };
  std::string_view str;
  const bool is_string = value.get_string().get(str) == simdjson::SUCCESS;
  switch (type) {
    case FieldType::kString:
      return is_string ? minified : bad();
    case FieldType::kInt64:
      return value.is_int64() ? minified : bad();
    case FieldType::kDouble:
      return value.is_number() ? minified : bad();
    case FieldType::kBool:
      return value.is_bool() ? minified : bad();
    case FieldType::kDecimal:
      if (is_string && IsPlainDecimal(str)) return minified;
      if (value.is_number()) return StrCat("\"", minified, "\"");
      return bad();
    case FieldType::kTimestamp: {
      if (!is_string) return bad();
      std::optional<absl::Time> t = ParseRfc3339(str);
      if (!t) return bad();
      return StrCat("\"", FormatRfc3339(*t), "\"");
    }
    case FieldType::kJson:
      return minified;
  }
  return bad();
}

}  // namespace

namespace {

// The constant or default `json` as the field's output; empty with an error
// under `path` when it is not JSON or does not fit the type.
std::string Literal(const std::string& json, FieldType type, bool is_const, const std::string& path,
                    FieldErrors* errors) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  if (parser.parse(json.data(), json.size()).get(value) != simdjson::SUCCESS) {
    errors->Add(path, StrCat("not JSON: ", json.substr(0, 60)));
    return "";
  }
  return RenderLiteral(value, type, is_const, path, errors);
}

void AddField(const JsonField& f, const std::string& path, JsonMapper* mapper,
              std::vector<std::string>* names, FieldErrors* errors) {
  FieldSpec spec;
  spec.name = f.name;
  if (f.name.empty()) errors->Add(JoinPath(path, "name"), "required but missing");
  if (std::find(names->begin(), names->end(), f.name) != names->end()) {
    errors->Add(JoinPath(path, "name"), StrCat("duplicate output field \"", f.name, "\""));
  }
  names->push_back(f.name);
  AppendJsonString(spec.name, &spec.key_json);
  spec.key_json.push_back(':');
  spec.type = f.type;
  spec.format = f.format.value_or(JsonTimeFormat::kRfc3339);
  if (f.format && spec.type != FieldType::kTimestamp) {
    errors->Add(JoinPath(path, "format"), "only a timestamp field takes a format");
  }
  if (f.decimal_comma) {
    spec.decimal_point = ',';
    if (spec.type != FieldType::kDecimal)
      errors->Add(JoinPath(path, "decimal_comma"), "only a decimal field takes decimal_comma");
  }
  spec.required = f.required;
  if (f.from.has_value() == !f.const_json.empty()) {
    errors->Add(path, "needs exactly one of \"from\" (a JSON pointer) or \"const\" (a value)");
  }
  if (!f.const_json.empty()) {
    spec.literal_json = Literal(f.const_json, spec.type, true, JoinPath(path, "const"), errors);
    spec.has_literal = true;
  }
  if (f.from) {
    spec.pointer = *f.from;
    spec.slot = mapper->AddPointerOrError(*f.from, JoinPath(path, "from"), errors);
  }
  if (!f.default_json.empty()) {
    if (spec.required) errors->Add(JoinPath(path, "default"), "a required field cannot have a default");
    spec.literal_json = Literal(f.default_json, spec.type, false, JoinPath(path, "default"), errors);
    spec.has_literal = true;
  }
  mapper->fields_.push_back(std::move(spec));
}

}  // namespace

std::unique_ptr<Mapper> BuildJsonMapper(const JsonMapperOptions& o, std::string_view path,
                                        FieldErrors* errors) {
  const size_t before = errors->size();
  auto mapper = std::make_unique<JsonMapper>();
  if (o.max_record_bytes < 64 || o.max_record_bytes > (int64_t{1} << 30)) {
    errors->Add(JoinPath(path, "max_record_bytes"), "must be 64 to 1073741824");
  }
  mapper->max_record_bytes_ = static_cast<size_t>(o.max_record_bytes);
  std::vector<std::string> names;
  for (size_t i = 0; i < o.fields.size(); ++i) {
    AddField(o.fields[i], StrCat(JoinPath(path, "fields"), "[", i, "]"), mapper.get(), &names, errors);
  }
  if (o.fields.empty()) errors->Add(JoinPath(path, "fields"), "must list at least one field");
  if (!o.key_from.empty() && o.key_hash) {
    errors->Add(JoinPath(path, "key"),
                "needs either \"from\" (a JSON pointer or a list of them) or \"hash\": true");
  }
  for (const std::string& p : o.key_from) {
    mapper->key_.push_back({p, mapper->AddPointerOrError(p, JoinPath(path, "key.from"), errors)});
  }
  if (!o.event_time_from.empty()) {
    mapper->event_time_.pointer = o.event_time_from;
    mapper->event_time_.slot =
        mapper->AddPointerOrError(o.event_time_from, JoinPath(path, "event_time.from"), errors);
  }
  mapper->event_time_format_ = o.event_time_format;
  if (errors->size() != before) return nullptr;
  return mapper;
}

absl::StatusOr<std::unique_ptr<Mapper>> NewJsonMapper(const JsonMapperOptions& options) {
  FieldErrors errors;
  std::unique_ptr<Mapper> mapper = BuildJsonMapper(options, "", &errors);
  if (mapper == nullptr) return errors.ToStatus("invalid json mapper");
  return mapper;
}

}  // namespace recovery
