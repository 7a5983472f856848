#include "spec/mapper_section.h"

#include "json/json_mapper.h"
#include "util/strings.h"

namespace recovery {
namespace {

const std::vector<std::string_view> kTypeNames = {"string",  "int64",     "double", "bool",
                                                  "decimal", "timestamp", "json"};
const std::vector<std::string_view> kTimeFormats = {"rfc3339", "epoch_s", "epoch_ms", "epoch_us"};

JsonField ReadField(SpecObject& f) {
  JsonField field;
  field.name = f.String("name", true).value_or("");
  field.type = static_cast<JsonFieldType>(f.Enum("type", false, kTypeNames).value_or(0));
  if (auto format = f.Enum("format", false, kTimeFormats))
    field.format = static_cast<JsonTimeFormat>(*format);
  if (f.Has("format") && !field.format) field.format = JsonTimeFormat::kRfc3339;  // a bad value, reported
  field.decimal_comma = f.Bool("decimal_comma").value_or(false);
  field.required = f.Bool("required").value_or(false);
  if (auto c = f.Value("const")) field.const_json = simdjson::minify(*c);
  field.from = f.String("from");
  if (auto d = f.Value("default")) field.default_json = simdjson::minify(*d);
  f.Finish();
  return field;
}

// "from": a JSON pointer or a non-empty list of them; or "hash": true.
void ReadKey(SpecObject& key, JsonMapperOptions* o) {
  const bool has_from = key.Has("from");
  o->key_hash = key.Bool("hash").value_or(false);
  if (has_from == o->key_hash) {
    key.errors()->Add(key.path(),
                      "needs either \"from\" (a JSON pointer or a list of them) or \"hash\": true");
  }
  if (auto from = key.Value("from")) {
    std::string_view one;
    simdjson::dom::array list;
    if (from->get_string().get(one) == simdjson::SUCCESS) {
      o->key_from.emplace_back(one);
    } else if (from->get_array().get(list) == simdjson::SUCCESS && list.size() > 0) {
      for (simdjson::dom::element p : list) {
        if (p.get_string().get(one) != simdjson::SUCCESS) {
          key.errors()->Add(key.PathOf("from"),
                            StrCat("expected JSON pointer strings, got ", DescribeJson(p)));
          break;
        }
        o->key_from.emplace_back(one);
      }
    } else {
      key.errors()->Add(
          key.PathOf("from"),
          StrCat("expected a JSON pointer or a non-empty list of them, got ", DescribeJson(*from)));
    }
  }
  if (o->key_hash && !o->key_from.empty()) o->key_hash = false;  // reported above; check the pointers alone
  key.Finish();
}

}  // namespace

JsonMapperOptions ReadJsonMapper(SpecObject& config) {
  JsonMapperOptions o;
  config.String("type");
  o.max_record_bytes =
      config.Int("max_record_bytes", false, 64, int64_t{1} << 30).value_or(o.max_record_bytes);
  if (auto fields = config.Array("fields", true)) {
    size_t i = 0;
    for (simdjson::dom::element e : *fields) {
      SpecObject f(e, StrCat(config.PathOf("fields"), "[", i++, "]"), config.errors());
      if (f.valid()) o.fields.push_back(ReadField(f));
    }
  }
  if (auto key = config.Object("key")) ReadKey(*key, &o);
  if (auto et = config.Object("event_time")) {
    o.event_time_from = et->String("from", true).value_or("");
    o.event_time_format = static_cast<JsonTimeFormat>(et->Enum("format", false, kTimeFormats).value_or(0));
    et->Finish();
  }
  config.Finish();
  return o;
}

absl::StatusOr<std::unique_ptr<Mapper>> NewJsonMapper(std::string_view config_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(config_json.data(), config_json.size()).get(root)) {
    return absl::InvalidArgumentError(StrCat("mapper: invalid JSON: ", simdjson::error_message(err)));
  }
  SpecErrors errors;
  SpecObject config(root, "mapper", &errors);
  std::unique_ptr<Mapper> mapper;
  if (config.valid()) {
    const JsonMapperOptions options = ReadJsonMapper(config);
    if (errors.empty()) mapper = BuildJsonMapper(options, "mapper", &errors);
  }
  if (!errors.empty()) return errors.ToStatus("invalid mapper");
  return mapper;
}

}  // namespace recovery
