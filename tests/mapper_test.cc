#include "recovery/mapper.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recovery/json_mapper.h"
#include "simdjson.h"
#include "testing/test_util.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using ::testing::HasSubstr;
using testing::T;

struct Mapped {
  MapOutcome outcome;
  std::string key;
  absl::Time event_time;
  std::string payload;
  std::string reason;
};

class MapperTest : public ::testing::Test {
 protected:
  void Use(const std::string& config) {
    auto m = NewJsonMapper(config);
    ASSERT_TRUE(m.ok()) << m.status();
    mapper_ = *std::move(m);
  }

  Mapped Map(const std::string& raw) {
    RawBatch in;
    in.Add(raw);
    RecordBatch out;
    Mapped r;
    r.outcome = mapper_->Map(in.records()[0], shard_, &out, &r.reason);
    if (r.outcome == MapOutcome::kEmitted) {
      EXPECT_EQ(out.size(), 1u);
      r.key = std::string(out.back().key);
      r.event_time = out.back().event_time;
      r.payload = std::string(out.back().payload);
    } else {
      EXPECT_EQ(out.size(), 0u);
    }
    return r;
  }

  std::string Payload(const std::string& raw) {
    Mapped m = Map(raw);
    EXPECT_EQ(m.outcome, MapOutcome::kEmitted) << m.reason;
    return m.payload;
  }

  std::string Reason(const std::string& raw) {
    Mapped m = Map(raw);
    EXPECT_EQ(m.outcome, MapOutcome::kRejected) << m.payload;
    return m.reason;
  }

  Shard shard_{"s", 0, T("2026-11-14T00:00:00Z"), T("2026-11-15T00:00:00Z")};
  std::unique_ptr<Mapper> mapper_;
};

TEST_F(MapperTest, MapsNestedFieldsInSpecOrderWithKeyAndEventTime) {
  Use(R"({"type":"json","fields":[
      {"name":"id","from":"/id","required":true},
      {"name":"amount","from":"/amount/value","type":"decimal"},
      {"name":"sku","from":"/items/1/sku"},
      {"name":"city","from":"/customer/address/city"},
      {"name":"source","const":"vendor-api"}],
    "key":{"from":"/id"},"event_time":{"from":"/created_at"}})");
  Mapped m =
      Map(R"({"created_at":"2026-11-14T10:00:00.5Z","customer":{"address":{"city":"Lyon"}},)"
          R"("items":[{"sku":"A"},{"sku":"B"}],"amount":{"value":12.30},"id":"t-1","extra":[1,{"x":2}]})");
  ASSERT_EQ(m.outcome, MapOutcome::kEmitted) << m.reason;
  EXPECT_EQ(m.payload, R"({"id":"t-1","amount":"12.30","sku":"B","city":"Lyon","source":"vendor-api"})");
  EXPECT_EQ(m.key, "t-1");
  EXPECT_EQ(m.event_time, T("2026-11-14T10:00:00.5Z"));
}

// The same mapper from typed options, with no JSON configuration at all.
TEST_F(MapperTest, TypedOptionsBuildTheSameMapper) {
  JsonMapperOptions o;
  o.fields.push_back({.name = "id", .from = "/id", .required = true});
  o.fields.push_back({.name = "amount", .from = "/amount", .type = JsonFieldType::kDecimal});
  o.fields.push_back({.name = "source", .const_json = R"("vendor-api")"});
  o.fields.push_back({.name = "at",
                      .from = "/ts",
                      .type = JsonFieldType::kTimestamp,
                      .format = JsonTimeFormat::kEpochSeconds});
  o.key_from = {"/id"};
  o.event_time_from = "/ts";
  o.event_time_format = JsonTimeFormat::kEpochSeconds;
  auto m = NewJsonMapper(o);
  ASSERT_TRUE(m.ok()) << m.status();
  mapper_ = *std::move(m);
  Mapped r = Map(R"({"id":"t1","amount":12.30,"ts":1794650400})");
  ASSERT_EQ(r.outcome, MapOutcome::kEmitted) << r.reason;
  EXPECT_EQ(r.key, "t1");
  EXPECT_EQ(r.event_time, T("2026-11-14T10:00:00Z"));
  EXPECT_EQ(r.payload, R"({"id":"t1","amount":"12.30","source":"vendor-api","at":"2026-11-14T10:00:00Z"})");

  JsonMapperOptions bad;
  bad.fields.push_back({.name = "a", .from = "a"});
  bad.fields.push_back({.name = "a", .from = "/b", .const_json = "1"});
  bad.fields.push_back({.name = "n", .from = "/n", .type = JsonFieldType::kInt64, .default_json = R"("0")"});
  auto e = NewJsonMapper(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(e.status().message());
  EXPECT_THAT(message, HasSubstr("fields[0].from: \"a\" is not a JSON pointer"));
  EXPECT_THAT(message, HasSubstr("fields[1].name: duplicate output field \"a\""));
  EXPECT_THAT(message, HasSubstr("fields[1]: needs exactly one of \"from\""));
  EXPECT_THAT(message, HasSubstr("fields[2].default: expected a int64 value, got \"0\""));
}

TEST_F(MapperTest, CoercesTypes) {
  Use(R"({"type":"json","fields":[
      {"name":"i","from":"/i","type":"int64"},{"name":"is","from":"/is","type":"int64"},
      {"name":"d","from":"/d","type":"double"},{"name":"ds","from":"/ds","type":"double"},
      {"name":"b","from":"/b","type":"bool"},{"name":"bs","from":"/bs","type":"bool"},
      {"name":"n","from":"/n","type":"string"},{"name":"dec","from":"/dec","type":"decimal"},
      {"name":"j","from":"/j","type":"json"},{"name":"js","from":"/js","type":"json"}]})");
  EXPECT_EQ(Payload(R"({"i":-42,"is":"17","d":1.5,"ds":"2.25","b":true,"bs":"false","n":12.50,)"
                    R"("dec":"-0.10","j":{ "a" : [1, 2] },"js":"x\ty"})"),
            R"({"i":-42,"is":17,"d":1.5,"ds":2.25,"b":true,"bs":false,"n":"12.50","dec":"-0.10",)"
            R"("j":{"a":[1,2]},"js":"x\ty"})");
}

// Found by fuzz/mapper_fuzzer: the shortest form of 1.5e20 is a 21-digit
// integer token, which JSON readers (simdjson among them) refuse as an
// integer overflowing 64 bits. Large whole doubles keep an exponent.
TEST_F(MapperTest, ALargeWholeDoubleIsWrittenSoJsonReadersCanReadIt) {
  Use(R"({"type":"json","fields":[{"name":"x","from":"/x","type":"double"}]})");
  EXPECT_EQ(Payload(R"({"x":150011111111111111111})"), R"({"x":1.500111111111111e+20})");
  EXPECT_EQ(Payload(R"({"x":-2e19})"), R"({"x":-2e+19})");
  EXPECT_EQ(Payload(R"({"x":123456789012345})"), R"({"x":123456789012345})");  // small: as before
  simdjson::dom::parser parser;
  EXPECT_EQ(parser.parse(Payload(R"({"x":99999999999999999999})")).error(), simdjson::SUCCESS);
}

TEST_F(MapperTest, AJsonFieldWhoseRawTextIsMalformedIsRejectedNotCopied) {
  // Found by fuzz/mapper_fuzzer: On-Demand does not check what it skips, so
  // `[1t {...}]` used to be copied into the payload as invalid JSON.
  Use(R"({"type":"json","fields":[{"name":"j","from":"/j","type":"json"}]})");
  EXPECT_THAT(Reason(R"({"j":{"k":[1t {"z":null}]}})"),
              HasSubstr("field j (/j): expected json, got an object that is not valid JSON ("));
  EXPECT_EQ(Payload(R"({"j":{"k":[1, {"z":null}]}})"), R"({"j":{"k":[1,{"z":null}]}})");
}

TEST_F(MapperTest, AMalformedNumberIsInvalidJsonNotCopied) {
  // Found by fuzz/mapper_fuzzer: a number's raw token was copied unchecked
  // into "decimal" fields.
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a","type":"decimal"},{"name":"j","from":"/j","type":"json"}]})");
  EXPECT_THAT(Reason(R"({"a":12". 30"})"), HasSubstr("invalid JSON"));
  EXPECT_THAT(Reason(R"({"a":1.5,"j":01})"), HasSubstr("invalid JSON"));
  EXPECT_THAT(Reason(R"({"a":-})"), HasSubstr("invalid JSON"));
  EXPECT_EQ(Payload(R"({"a":-0.5e+3,"j":0})"), R"({"a":"-0.5e+3","j":0})");
}

TEST_F(MapperTest, TimestampsInEveryFormatComeOutAsRfc3339Utc) {
  Use(R"({"type":"json","fields":[
      {"name":"a","from":"/a","type":"timestamp"},
      {"name":"b","from":"/b","type":"timestamp","format":"epoch_s"},
      {"name":"c","from":"/c","type":"timestamp","format":"epoch_ms"},
      {"name":"d","from":"/d","type":"timestamp","format":"epoch_us"}],
    "event_time":{"from":"/c","format":"epoch_ms"}})");
  Mapped m =
      Map(R"({"a":"2026-11-14T12:00:00+02:00","b":1763114400.25,"c":"1763114400123","d":1763114400000001})");
  ASSERT_EQ(m.outcome, MapOutcome::kEmitted) << m.reason;
  EXPECT_EQ(m.payload, R"({"a":"2026-11-14T10:00:00Z","b":"2025-11-14T10:00:00.250Z",)"
                       R"("c":"2025-11-14T10:00:00.123Z","d":"2025-11-14T10:00:00.000001Z"})");
  EXPECT_EQ(m.event_time, absl::FromUnixMillis(1763114400123));
}

// The event time's value is read once for a timestamp field of the same
// pointer and format, and a text already in the written form is copied; the
// payload is the same as when each is read and formatted on its own.
TEST_F(MapperTest, ATimestampSharedWithTheEventTimeComesOutAsItsOwnFieldWould) {
  Use(R"({"type":"json","fields":[
      {"name":"at","from":"/at","type":"timestamp"},
      {"name":"ms","from":"/ms","type":"timestamp","format":"epoch_ms"}],
    "event_time":{"from":"/at"}})");
  for (const char* at : {"2026-11-14T10:00:00Z", "2026-11-14T10:00:00.250Z", "2026-11-14T10:00:00.000Z",
                         "2026-11-14T12:00:00+02:00", "2016-12-31T23:59:60Z", "2026-11-14t10:00:00z"}) {
    Mapped m = Map(StrCat(R"({"at":")", at, R"(","ms":1763114400123})"));
    ASSERT_EQ(m.outcome, MapOutcome::kEmitted) << m.reason;
    EXPECT_EQ(m.payload,
              StrCat(R"({"at":")", FormatRfc3339(*ParseRfc3339(at)), R"(","ms":"2025-11-14T10:00:00.123Z"})"))
        << at;
    EXPECT_EQ(m.event_time, *ParseRfc3339(at));
  }
  // "same" reads /ms as RFC 3339, not as the event time's format: a number is no such time.
  Use(R"({"type":"json","fields":[{"name":"same","from":"/ms","type":"timestamp"}],
    "event_time":{"from":"/ms","format":"epoch_ms"}})");
  EXPECT_EQ(Reason(R"({"ms":1763114400123})"), "field same (/ms): expected rfc3339 time, got 1763114400123");
}

TEST_F(MapperTest, RequiredOptionalAndDefaults) {
  Use(R"({"type":"json","fields":[
      {"name":"id","from":"/id","required":true},
      {"name":"note","from":"/note"},
      {"name":"currency","from":"/currency","default":"EUR"},
      {"name":"points","from":"/points","type":"int64","default":0}]})");
  EXPECT_EQ(Payload(R"({"id":"x","points":null})"), R"({"id":"x","note":null,"currency":"EUR","points":0})");
  EXPECT_EQ(Reason(R"({"note":"n"})"), "field id (/id): required but missing");
  EXPECT_EQ(Reason(R"({"id":null})"), "field id (/id): required but null");
}

TEST_F(MapperTest, RejectsWrongTypesNamingFieldPointerAndValue) {
  Use(R"({"type":"json","fields":[{"name":"n","from":"/n","type":"int64"},{"name":"s","from":"/s"},
      {"name":"dec","from":"/dec","type":"decimal"},{"name":"t","from":"/t","type":"timestamp"}]})");
  EXPECT_EQ(Reason(R"({"n":"12x"})"), R"(field n (/n): expected int64, got "12x")");
  EXPECT_EQ(Reason(R"({"n":1.5})"), "field n (/n): expected int64, got 1.5");
  EXPECT_EQ(Reason(R"({"n":99999999999999999999})"),
            "field n (/n): expected int64, got 99999999999999999999");
  EXPECT_EQ(Reason(R"({"s":{"a":1}})"), "field s (/s): expected string, got an object");
  EXPECT_EQ(Reason(R"({"dec":"1e5"})"), R"(field dec (/dec): expected decimal, got "1e5")");
  EXPECT_EQ(Reason(R"({"t":"yesterday"})"), R"(field t (/t): expected rfc3339 time, got "yesterday")");
}

TEST_F(MapperTest, DecimalsWrittenWithACommaComeOutWithAPoint) {
  Use(R"({"type":"json","fields":[{"name":"dec","from":"/dec","type":"decimal","decimal_comma":true}]})");
  EXPECT_EQ(Payload(R"({"dec":"12,30"})"), R"({"dec":"12.30"})");
  EXPECT_EQ(Payload(R"({"dec":"-7"})"), R"({"dec":"-7"})");
  EXPECT_EQ(Payload(R"({"dec":12.5})"), R"({"dec":"12.5"})");  // a JSON number as it is
  // A point in a comma-decimal column may be a thousands separator: refused, not guessed.
  EXPECT_EQ(Reason(R"({"dec":"1.234"})"), R"(field dec (/dec): expected decimal, got "1.234")");
  EXPECT_EQ(Reason(R"({"dec":"12,"})"), R"(field dec (/dec): expected decimal, got "12,")");
}

TEST_F(MapperTest, KeysFromSeveralFieldsAreUnambiguousAndHashKeysAreStable) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"}],"key":{"from":["/a","/b"]}})");
  EXPECT_EQ(Map(R"({"a":"x|y","b":1})").key, R"(x\|y|1)");
  EXPECT_NE(Map(R"({"a":"x","b":"y|1"})").key, Map(R"({"a":"x|y","b":"1"})").key);
  EXPECT_THAT(Reason(R"({"a":"x"})"),
              HasSubstr("key (/b): expected a string or number, got nothing (missing)"));

  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"}]})");  // no key: a hash of the raw record
  const std::string k1 = Map(R"({"a":1})").key;
  EXPECT_EQ(k1.size(), 32u);
  EXPECT_EQ(k1, Map(R"({"a":1})").key);
  EXPECT_NE(k1, Map(R"({"a":2})").key);
}

TEST_F(MapperTest, EscapesOutputStringsCorrectly) {
  Use(R"({"type":"json","fields":[{"name":"s","from":"/s"},{"name":"k\"ey","from":"/k"}]})");
  EXPECT_EQ(Payload(R"({"s":"q\" b\\ \n\t\u0001 \u00e9 \ud83d\ude00 </","k":"v"})"),
            "{\"s\":\"q\\\" b\\\\ \\n\\t\\u0001 \xc3\xa9 \xf0\x9f\x98\x80 </\",\"k\\\"ey\":\"v\"}");
}

TEST_F(MapperTest, RejectsMalformedRecordsWithReasons) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"}],"max_record_bytes":4096})");
  EXPECT_THAT(Reason(R"({"a":1)"), HasSubstr("invalid JSON"));
  EXPECT_THAT(Reason(R"({"a":"unterminated})"), HasSubstr("invalid JSON"));
  EXPECT_EQ(Reason(R"([1,2])"), "record is not a JSON object");
  EXPECT_EQ(Reason("\"just a string\""), "record is not a JSON object");
  EXPECT_THAT(Reason(R"({"a":1} {"a":2})"), HasSubstr("invalid JSON"));
  EXPECT_EQ(Reason("{\"a\":\"\xff\xfe\"}"), "record is not valid UTF-8");
  EXPECT_THAT(Reason("{\"a\":\"" + std::string(5000, 'x') + "\"}"),
              HasSubstr("over mapper.max_record_bytes (4096)"));
  std::string deep(2000, '[');
  EXPECT_THAT(Reason("{\"a\":" + deep + "}"), HasSubstr("invalid JSON"));
}

TEST_F(MapperTest, HugeStringsWithinTheLimitMapIntact) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"}]})");
  const std::string big(3 << 20, 'z');
  EXPECT_EQ(Payload("{\"a\":\"" + big + "\"}"), "{\"a\":\"" + big + "\"}");
}

TEST_F(MapperTest, FirstDuplicateKeyWinsAndMissingPathsAreMissing) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"},{"name":"deep","from":"/x/y/0"}]})");
  EXPECT_EQ(Payload(R"({"a":1,"a":2,"x":"scalar"})"), R"({"a":"1","deep":null})");
  EXPECT_EQ(Payload(R"({"x":{"y":[]}})"), R"({"a":null,"deep":null})");
  EXPECT_EQ(Payload(R"({"x":{"y":[true]}})"), R"({"a":null,"deep":"true"})");
}

TEST_F(MapperTest, PointerEscapesAndWholeRecord) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a~1b/c~0d"},{"name":"all","from":"","type":"json"}]})");
  EXPECT_EQ(Payload(R"({"a/b": {"c~d": "v"}})"), R"({"a":"v","all":{"a/b":{"c~d":"v"}}})");
}

TEST_F(MapperTest, EventTimeProblemsAreRejections) {
  Use(R"({"type":"json","fields":[{"name":"a","from":"/a"}],"event_time":{"from":"/ts"}})");
  EXPECT_EQ(Reason(R"({"a":1})"), "event_time (/ts): required but missing");
  EXPECT_EQ(Reason(R"({"ts":"2026-02-30T00:00:00Z"})"),
            R"(event_time (/ts): expected rfc3339 time, got "2026-02-30T00:00:00Z")");
}

TEST_F(MapperTest, MapsARealisticTransaction) {
  Use(R"({"type":"json","fields":[{"name":"id","from":"/id","required":true},
      {"name":"amount","from":"/amount/value","type":"decimal"},{"name":"currency","from":"/amount/currency"},
      {"name":"customer","from":"/customer/id"},{"name":"first_sku","from":"/items/0/sku"},
      {"name":"notes","from":"/metadata/notes"}],
      "key":{"from":"/id"},"event_time":{"from":"/created_at"}})");
  Mapped m = Map(testing::TransactionJson(7, T("2026-11-14T01:02:03Z")));
  ASSERT_EQ(m.outcome, MapOutcome::kEmitted) << m.reason;
  EXPECT_EQ(m.key, "txn-00000007");
  EXPECT_EQ(m.payload, R"({"id":"txn-00000007","amount":"17.07","currency":"GBP","customer":"cust-000007",)"
                       R"("first_sku":"SKU-00007","notes":"line one\nline two é"})");
}

struct BadConfig {
  const char* json;
  const char* error;
};

class MapperConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(MapperConfigTest, NamesThePath) {
  auto m = NewJsonMapper(GetParam().json);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, MapperConfigTest,
    ::testing::Values(
        BadConfig{R"({"type":"json"})", "mapper.fields: required but missing"},
        BadConfig{R"({"type":"json","fields":[]})", "mapper.fields: must list at least one field"},
        BadConfig{R"({"type":"json","fields":[{"name":"a"}]})",
                  "mapper.fields[0]: needs exactly one of \"from\" (a JSON pointer) or \"const\""},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"a"}]})",
                  "mapper.fields[0].from: \"a\" is not a JSON pointer"},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a","type":"integer"}]})",
                  "mapper.fields[0].type: expected one of \"string\", \"int64\""},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a","tyep":"string"}]})",
                  "mapper.fields[0].tyep: unknown key (did you mean \"type\"?)"},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a","type":"int64","default":"0"}]})",
                  "mapper.fields[0].default: expected a int64 value, got \"0\""},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a"},{"name":"a","from":"/b"}]})",
                  "mapper.fields[1].name: duplicate output field \"a\""},
        BadConfig{
            R"({"type":"json","fields":[{"name":"a","from":"/a","type":"json"},{"name":"b","from":"/a/b"}]})",
            "mapper.fields[1].from: \"/a/b\" lies inside a value another field captures whole"},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a"}],"key":{}})",
                  "mapper.key: needs either \"from\""},
        BadConfig{
            R"({"type":"json","fields":[{"name":"a","from":"/a"}],"event_time":{"from":"/t","format":"unix"}})",
            "mapper.event_time.format: expected one of \"rfc3339\", \"epoch_s\", \"epoch_ms\", \"epoch_us\", "
            "got \"unix\""},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a","format":"epoch_s"}]})",
                  "mapper.fields[0].format: only a timestamp field takes a format"},
        BadConfig{R"({"type":"json","fields":[{"name":"a","from":"/a","decimal_comma":true}]})",
                  "mapper.fields[0].decimal_comma: only a decimal field takes decimal_comma"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return "Case" + std::to_string(info.index); });

}  // namespace
}  // namespace recovery
