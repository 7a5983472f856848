#include "checkpoint/checkpoint_codec.h"

#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "json/json_writer.h"
#include "json/spec_reader.h"
#include "util/hash.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

constexpr char kFormatName[] = "recovery-checkpoint";

// Bytes that are not UTF-8 go to "<key>_base64".
void PutBytes(JsonObjectWriter& w, std::string_view key, std::string_view bytes) {
  if (IsValidUtf8(bytes)) {
    w.Str(key, bytes);
  } else {
    w.Str(StrCat(key, "_base64"), absl::Base64Escape(ToAbsl(bytes)));
  }
}

std::string GetBytes(SpecObject& o, std::string_view key) {
  if (auto s = o.String(key)) return *s;
  std::string b64key = StrCat(key, "_base64");
  if (auto s = o.String(b64key)) {
    std::string out;
    if (!absl::Base64Unescape(*s, &out)) o.errors()->Add(o.PathOf(b64key), "invalid base64");
    return out;
  }
  return "";
}

// Key hashes as base64 of their 8 little-endian bytes each; nothing when empty.
void PutHashes(JsonObjectWriter& w, std::string_view key, const std::vector<uint64_t>& hashes) {
  if (hashes.empty()) return;
  std::string raw(hashes.size() * 8, '\0');
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (int b = 0; b < 8; ++b) raw[i * 8 + b] = static_cast<char>((hashes[i] >> (8 * b)) & 0xff);
  }
  w.Str(key, absl::Base64Escape(raw));
}

std::vector<uint64_t> GetHashes(SpecObject& o, std::string_view key, SpecErrors* errors) {
  std::vector<uint64_t> out;
  std::optional<std::string> b64 = o.String(key);
  if (!b64) return out;
  std::string raw;
  if (!absl::Base64Unescape(*b64, &raw) || raw.size() % 8 != 0) {
    errors->Add(key, "not base64 of whole 8-byte hashes");
  }
  for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
    uint64_t h = 0;
    for (int b = 0; b < 8; ++b) h |= static_cast<uint64_t>(static_cast<unsigned char>(raw[i + b])) << (8 * b);
    out.push_back(h);
  }
  return out;
}

// Version 1 readers refuse fields they do not know: a checkpoint that needs
// the newer ones says so with its version, one that does not stays readable
// by them.
int VersionNeeded(const Checkpoint& c) {
  if (c.sorted_through != absl::InfinitePast() || c.unsorted || c.read_from != absl::InfinitePast()) return 9;
  if (!c.hour_outcomes.empty()) return 8;
  if (c.page_taken > 0 || !c.edits.empty() || c.dead_letters_purged > 0) return 7;
  if (c.counters.records_of_other_shards > 0) return 6;
  if (c.cursor_restarts > 0 || c.delivered_keys > 0) return 5;
  if (c.crashes > 0 || !c.suspect_keys.empty() || !c.settled_keys.empty()) return 4;
  if (!c.warning.empty()) return 3;
  if (c.counters.records_already_present > 0 || !c.in_flight_keys.empty()) return 2;
  return 1;
}

std::string EncodeCounters(const ShardCounters& c, int version) {
  std::string counters;
  counters.reserve(256);
  JsonObjectWriter cw(&counters);
  cw.Uint("records_fetched", c.records_fetched)
      .Uint("records_delivered", c.records_delivered)
      .Uint("records_dropped", c.records_dropped)
      .Uint("records_out_of_window", c.records_out_of_window);
  if (version >= 2) cw.Uint("records_already_present", c.records_already_present);
  if (version >= 6) cw.Uint("records_of_other_shards", c.records_of_other_shards);
  cw.Uint("dead_letters", c.dead_letters)
      .Uint("pages", c.pages)
      .Uint("bytes", c.bytes)
      .Uint("retries", c.retries);
  cw.Close();
  return counters;
}

// hour -> [already present, dead letters, out of window].
std::string EncodeHourOutcomes(const std::map<int64_t, HourOutcomes>& hours) {
  std::string out = "{";
  out.reserve(40 * hours.size());
  for (const auto& [hour, o] : hours) {
    StrAppend(&out, out.size() > 1 ? "," : "", "\"", hour, "\":[", o.already_present, ",", o.dead_letters,
              ",", o.out_of_window, "]");
  }
  out.push_back('}');
  return out;
}

}  // namespace

std::string EncodeCheckpoint(std::string_view job, std::string_view shard_id, const Checkpoint& c) {
  std::string body;
  body.reserve(512 + 24 * c.coverage.size() + 12 * c.in_flight_keys.size() + c.cursor.size() +
               c.sink_token.size() + c.last_error.size());  // one allocation on the per-page path
  JsonObjectWriter w(&body);
  const int version = VersionNeeded(c);
  w.Str("format", kFormatName)
      .Int("version", version)
      .Str("job", job)
      .Str("shard", shard_id)
      .Str("state", ShardStateName(c.state));
  PutBytes(w, "cursor", c.cursor);
  w.Bool("in_flight", c.in_flight);
  PutHashes(w, "in_flight_keys_base64", c.in_flight_keys);
  if (c.crashes > 0) w.Uint("crashes", c.crashes);
  if (c.suspect_deaths > 0) w.Uint("suspect_deaths", c.suspect_deaths);
  PutHashes(w, "suspect_keys_base64", c.suspect_keys);
  PutHashes(w, "settled_keys_base64", c.settled_keys);
  if (c.cursor_restarts > 0) w.Uint("cursor_restarts", c.cursor_restarts);
  if (c.delivered_keys > 0) w.Uint("delivered_keys", c.delivered_keys);
  if (c.sorted_through != absl::InfinitePast()) {  // to the nanosecond: a restart skips by it
    w.Int("sorted_through_unix_ns", absl::ToUnixNanos(c.sorted_through));
    PutHashes(w, "sorted_keys_base64", c.sorted_keys);
  }
  if (c.unsorted) w.Bool("unsorted", true);
  if (c.read_from != absl::InfinitePast()) w.Int("read_from_unix_ns", absl::ToUnixNanos(c.read_from));
  if (c.dead_letters_purged > 0) w.Uint("dead_letters_purged", c.dead_letters_purged);
  if (!c.edits.empty()) {
    std::string edits = "[";
    for (const std::string& e : c.edits) StrAppend(&edits, edits.size() > 1 ? "," : "", e);
    w.Raw("edits", StrCat(edits, "]"));
  }
  if (c.page_taken > 0) {
    w.Uint("page_taken", c.page_taken);
    PutHashes(w, "page_taken_hash_base64", {c.page_taken_hash});
  }
  PutBytes(w, "sink_token", c.sink_token);
  PutBytes(w, "dead_letter_token", c.dead_letter_token);
  w.Double("progress", c.progress);
  w.Raw("counters", EncodeCounters(c.counters, version));
  w.Str("last_error", c.last_error);
  if (version >= 3) w.Str("warning", c.warning);
  w.Time("updated", c.updated);
  if (c.reported_total >= 0) w.Int("reported_total", c.reported_total);
  if (!c.coverage.empty()) {
    std::string coverage;
    coverage.reserve(24 * c.coverage.size());
    JsonObjectWriter cov(&coverage);
    char key[24];
    for (const auto& [hour, count] : c.coverage) {
      const char* end = std::to_chars(key, key + sizeof key, hour).ptr;
      cov.Uint(std::string_view(key, static_cast<size_t>(end - key)), count);
    }
    cov.Close();
    w.Raw("coverage", coverage);
  }
  if (!c.hour_outcomes.empty()) w.Raw("hour_outcomes", EncodeHourOutcomes(c.hour_outcomes));
  w.Close();
  const std::string hash = Hex64(StableHash64(body));
  body.push_back('\n');
  body.append(hash);
  body.push_back('\n');
  return body;
}

namespace {

// The counters object of a checkpoint.
void ReadCounters(SpecObject& counters, ShardCounters* out) {
  auto get = [&](std::string_view key) {
    return static_cast<uint64_t>(counters.Int(key, true, 0, INT64_MAX).value_or(0));
  };
  out->records_fetched = get("records_fetched");
  out->records_delivered = get("records_delivered");
  out->records_dropped = get("records_dropped");
  out->records_out_of_window = get("records_out_of_window");
  out->records_already_present =
      static_cast<uint64_t>(counters.Int("records_already_present", false, 0, INT64_MAX).value_or(0));
  out->records_of_other_shards =
      static_cast<uint64_t>(counters.Int("records_of_other_shards", false, 0, INT64_MAX).value_or(0));
  out->dead_letters = get("dead_letters");
  out->pages = get("pages");
  out->bytes = get("bytes");
  out->retries = get("retries");
  counters.Finish();
}

// The coverage object of a checkpoint: hour -> records delivered in it.
template <typename Coverage>
void ReadCoverage(simdjson::dom::element coverage, SpecErrors* errors, Coverage* out) {
  simdjson::dom::object buckets;
  if (coverage.get_object().get(buckets) != simdjson::SUCCESS) {
    errors->Add("coverage", "expected object");
    return;
  }
  for (auto field : buckets) {
    int64_t hour;
    uint64_t count;
    if (!absl::SimpleAtoi(absl::string_view(field.key.data(), field.key.size()), &hour) ||
        field.value.get_uint64().get(count) != simdjson::SUCCESS) {
      errors->Add("coverage", "expected hour -> count");
      return;
    }
    (*out)[hour] = count;
  }
}

// The hour_outcomes object of a checkpoint (EncodeHourOutcomes).
void ReadHourOutcomes(simdjson::dom::element value, SpecErrors* errors,
                      std::map<int64_t, HourOutcomes>* out) {
  constexpr std::string_view kExpected = "expected hour -> [already present, dead letters, out of window]";
  simdjson::dom::object hours;
  if (value.get_object().get(hours) != simdjson::SUCCESS) {
    errors->Add("hour_outcomes", kExpected);
    return;
  }
  for (auto field : hours) {
    int64_t hour;
    simdjson::dom::array counts;
    uint64_t n[3];
    bool read = absl::SimpleAtoi(absl::string_view(field.key.data(), field.key.size()), &hour) &&
                field.value.get_array().get(counts) == simdjson::SUCCESS && counts.size() == 3;
    for (size_t i = 0; read && i < 3; ++i) read = counts.at(i).get_uint64().get(n[i]) == simdjson::SUCCESS;
    if (!read) {
      errors->Add("hour_outcomes", kExpected);
      return;
    }
    (*out)[hour] = HourOutcomes{.already_present = n[0], .dead_letters = n[1], .out_of_window = n[2]};
  }
}

// What a source whose cursors expire keeps for restarting the shard.
void ReadRestarts(SpecObject& o, SpecErrors* errors, Checkpoint* c) {
  c->cursor_restarts = static_cast<uint32_t>(o.Int("cursor_restarts", false, 0, 1 << 30).value_or(0));
  c->delivered_keys = static_cast<uint64_t>(o.Int("delivered_keys", false, 0, INT64_MAX).value_or(0));
  if (auto ns = o.Int("sorted_through_unix_ns", false, INT64_MIN, INT64_MAX))
    c->sorted_through = absl::FromUnixNanos(*ns);
  c->sorted_keys = GetHashes(o, "sorted_keys_base64", errors);
  c->unsorted = o.Bool("unsorted").value_or(false);
  if (auto ns = o.Int("read_from_unix_ns", false, INT64_MIN, INT64_MAX))
    c->read_from = absl::FromUnixNanos(*ns);
}

}  // namespace

absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view bytes, std::string_view source) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        StrCat("checkpoint ", source, " is corrupt: ", why, "; restore it from a backup or reset the shard"));
  };
  size_t newline = bytes.find('\n');
  if (newline == std::string_view::npos) return corrupt("truncated (no checksum line)");
  std::string_view body = bytes.substr(0, newline);
  std::string_view rest = bytes.substr(newline + 1);
  if (rest.size() != 17 || rest[16] != '\n') return corrupt("truncated or malformed checksum line");
  if (rest.substr(0, 16) != Hex64(StableHash64(body))) return corrupt("checksum mismatch");

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root); err != simdjson::SUCCESS) {
    return corrupt(StrCat("invalid JSON: ", simdjson::error_message(err)));
  }
  SpecErrors errors;
  SpecObject o(root, "", &errors);
  if (o.String("format", true).value_or("") != kFormatName) return corrupt("not a checkpoint file");
  int64_t version = o.Int("version", true, 1, 1 << 30).value_or(0);
  if (version > kCheckpointFormatVersion) {
    return absl::FailedPreconditionError(StrCat("checkpoint ", source, " has format version ", version,
                                                "; this build reads up to ", kCheckpointFormatVersion,
                                                ": upgrade recovery"));
  }
  o.String("job", true);
  o.String("shard", true);
  Checkpoint c;
  static const std::vector<std::string_view> kStates = {"pending", "running", "done", "failed"};
  c.state = static_cast<ShardState>(o.Enum("state", true, kStates).value_or(0));
  c.cursor = GetBytes(o, "cursor");
  c.in_flight = o.Bool("in_flight", true).value_or(false);
  c.in_flight_keys = GetHashes(o, "in_flight_keys_base64", &errors);
  c.crashes = static_cast<uint32_t>(o.Int("crashes", false, 0, 1 << 30).value_or(0));
  c.suspect_deaths = static_cast<uint32_t>(o.Int("suspect_deaths", false, 0, 1 << 30).value_or(0));
  c.suspect_keys = GetHashes(o, "suspect_keys_base64", &errors);
  c.settled_keys = GetHashes(o, "settled_keys_base64", &errors);
  ReadRestarts(o, &errors, &c);
  c.dead_letters_purged =
      static_cast<uint64_t>(o.Int("dead_letters_purged", false, 0, INT64_MAX).value_or(0));
  c.page_taken = static_cast<uint32_t>(o.Int("page_taken", false, 0, 1 << 30).value_or(0));
  if (auto edits = o.Array("edits")) {
    for (simdjson::dom::element e : *edits) {
      if (!e.is_object()) {
        errors.Add("edits", "expected an array of objects");
        break;
      }
      c.edits.push_back(simdjson::minify(e));
    }
  }
  if (const std::vector<uint64_t> h = GetHashes(o, "page_taken_hash_base64", &errors); !h.empty())
    c.page_taken_hash = h.front();
  c.sink_token = GetBytes(o, "sink_token");
  c.dead_letter_token = GetBytes(o, "dead_letter_token");
  c.progress = o.Double("progress", true, 0, 1).value_or(0);
  if (auto counters = o.Object("counters", true)) ReadCounters(*counters, &c.counters);
  c.last_error = o.String("last_error").value_or("");
  c.warning = o.String("warning").value_or("");
  c.updated = o.Time("updated", true).value_or(absl::UnixEpoch());
  c.reported_total = o.Int("reported_total", false, 0, INT64_MAX).value_or(-1);
  if (auto coverage = o.Value("coverage")) ReadCoverage(*coverage, &errors, &c.coverage);
  if (auto hours = o.Value("hour_outcomes")) ReadHourOutcomes(*hours, &errors, &c.hour_outcomes);
  o.Finish();
  if (!errors.empty()) return corrupt(errors.list().front());
  return c;
}

}  // namespace recovery
