#include "postgres/sink_rows.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace pg_rows {
namespace {

// Why a value of JSON type `t` cannot go into `col`, or "" when it can.
std::string Mismatch(const Column& col, simdjson::ondemand::json_type t) {
  using T = simdjson::ondemand::json_type;
  if (col.json) return "";
  const char k = col.category;
  switch (t) {
    case T::string:
      return "";  // the database parses it (and says so when it cannot)
    case T::number:
      return k == 'N' || k == 'S' ? "" : "a number";
    case T::boolean:
      return k == 'B' || k == 'S' ? "" : "a boolean";
    case T::object:
      return k == 'S' ? "" : "an object";
    case T::array:
      return k == 'S' ? "" : "an array";
    case T::null:
      return "";
  }
  return "";
}

// The value of a column filled from the record's own values or the batch's
// provenance (not a pointer), or nullopt for NULL; `time` holds a time it
// formatted.
std::optional<std::string_view> OwnValue(const Column& col, const Record& r, const Provenance& provenance,
                                         std::string* time) {
  switch (col.kind) {
    case From::kKey:
      return r.key;
    case From::kEventTime:
      if (r.event_time == kUnknownEventTime) return std::nullopt;
      *time = FormatRfc3339(r.event_time);
      return *time;
    case From::kRecord:
      return r.payload;
    case From::kJob:
      return provenance.job;
    case From::kRunId:
      return provenance.run_id;
    case From::kShard:
      return provenance.shard;
    case From::kRecoveredAt:
      return provenance.recovered_at;
    case From::kPointer:
      break;
  }
  return std::nullopt;
}

// The text of the value `col.from` points at in `doc`, or nullopt for NULL
// (missing or null) or when the record cannot have one (`why` says so).
std::optional<std::string_view> PointerValue(const Column& col, simdjson::ondemand::document& doc,
                                             std::string* why) {
  simdjson::ondemand::value v;
  const auto err = doc.at_pointer(col.from).get(v);
  if (err == simdjson::NO_SUCH_FIELD || err == simdjson::INDEX_OUT_OF_BOUNDS) return std::nullopt;
  simdjson::ondemand::json_type t;
  if (err != simdjson::SUCCESS || v.type().get(t) != simdjson::SUCCESS) {
    *why = StrCat("column ", col.name, " (", col.from, "): ", simdjson::error_message(err));
    return std::nullopt;
  }
  if (t == simdjson::ondemand::json_type::null) return std::nullopt;
  if (std::string m = Mismatch(col, t); !m.empty()) {
    *why = StrCat("column ", col.name, " (", col.type, ") cannot take ", m, " (", col.from, ")");
    return std::nullopt;
  }
  using T = simdjson::ondemand::json_type;
  std::string_view text;
  simdjson::error_code e = simdjson::SUCCESS;
  if (t == T::object) {
    simdjson::ondemand::object obj;
    e = v.get_object().get(obj);
    if (e == simdjson::SUCCESS) e = obj.raw_json().get(text);
  } else if (t == T::array) {
    simdjson::ondemand::array arr;
    e = v.get_array().get(arr);
    if (e == simdjson::SUCCESS) e = arr.raw_json().get(text);
  } else if (t == T::string && !col.json) {
    e = v.get_string().get(text);
    if (e == simdjson::SUCCESS && text.find('\0') != std::string_view::npos) {
      *why = StrCat("column ", col.name, " (", col.from,
                    "): the text holds a NUL character, which PostgreSQL cannot store");
      return std::nullopt;
    }
  } else {  // numbers keep their digits exactly; strings for json columns keep their quotes
    text = v.raw_json_token();
    while (!text.empty() &&
           (text.back() == ' ' || text.back() == '\n' || text.back() == '\t' || text.back() == '\r')) {
      text.remove_suffix(1);
    }
  }
  if (e != simdjson::SUCCESS) {
    *why = StrCat("column ", col.name, " (", col.from, "): ", simdjson::error_message(e));
    return std::nullopt;
  }
  return text;
}

// Sets `out` to the column's value for record `r` (nullopt: NULL), or
// returns why the record cannot have one.
std::string ValueOf(const Column& col, const Record& r, const Provenance& provenance,
                    simdjson::ondemand::document& doc, Rows* rows,
                    std::optional<std::pair<size_t, size_t>>* out) {
  std::string why, time;
  const std::optional<std::string_view> value =
      col.kind == From::kPointer ? PointerValue(col, doc, &why) : OwnValue(col, r, provenance, &time);
  if (!why.empty()) return why;
  *out = std::nullopt;
  if (value) {
    *out = std::make_pair(rows->text.size(), value->size());
    rows->text.append(*value);
  } else if (col.not_null) {
    return StrCat("column ", col.name, " is NOT NULL but the record has no value for it (", col.from, ")");
  }
  return "";
}

}  // namespace

From FromOf(std::string_view from) {
  static constexpr std::pair<std::string_view, From> kSpecial[] = {{"$key", From::kKey},
                                                                   {"$event_time", From::kEventTime},
                                                                   {"$record", From::kRecord},
                                                                   {"$job", From::kJob},
                                                                   {"$run_id", From::kRunId},
                                                                   {"$shard", From::kShard},
                                                                   {"$recovered_at", From::kRecoveredAt}};
  for (const auto& [name, kind] : kSpecial) {
    if (from == name) return kind;
  }
  return From::kPointer;
}

std::string_view SpecialFromNames() {
  return "\"$key\", \"$event_time\", \"$record\", \"$job\", \"$run_id\", \"$shard\" or \"$recovered_at\"";
}

// Turns the batch into rows; records that can never fit become rejections.
void BuildRows(absl::Span<const Column> columns, absl::Span<const Record> batch, const Provenance& provenance,
               Rows* rows, std::vector<SinkRejection>* rejected) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string padded;
  const bool need_json =
      std::any_of(columns.begin(), columns.end(), [](const Column& c) { return c.kind == From::kPointer; });
  std::vector<std::optional<std::pair<size_t, size_t>>> row(columns.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Record& r = batch[i];
    const size_t text_start = rows->text.size();
    std::string why;
    simdjson::ondemand::document doc;
    if (need_json) {
      padded.assign(r.payload);
      padded.append(simdjson::SIMDJSON_PADDING, '\0');
      if (parser.iterate(padded.data(), r.payload.size(), padded.size()).get(doc) != simdjson::SUCCESS) {
        why = "the mapped record is not JSON";
      }
    }
    for (size_t j = 0; j < columns.size() && why.empty(); ++j) {
      why = ValueOf(columns[j], r, provenance, doc, rows, &row[j]);
    }
    if (!why.empty()) {
      rows->text.resize(text_start);
      rejected->push_back({i, std::move(why)});
      continue;
    }
    rows->index.push_back(i);
    rows->values.insert(rows->values.end(), row.begin(), row.end());
  }
}

// Keeps one row per conflict key (ON CONFLICT cannot touch a row twice in
// one statement): the first with DO NOTHING, the last with DO UPDATE (and
// with kNewer: the database keeps the newest of the rest). Sorting row
// numbers allocates nothing per record.
void DropRepeatedKeys(absl::Span<const Column> columns, bool keep_last, Rows* rows) {
  const size_t n = rows->index.size(), width = columns.size();
  if (n < 2) return;
  auto value = [&](size_t row, size_t col) -> std::optional<std::string_view> {
    const auto& v = rows->values[row * width + col];
    if (!v) return std::nullopt;
    return std::string_view(rows->text).substr(v->first, v->second);
  };
  auto key_less = [&](uint32_t a, uint32_t b) {
    for (size_t j = 0; j < width; ++j) {
      if (!columns[j].conflict) continue;
      const auto va = value(a, j), vb = value(b, j);
      if (va != vb) return va < vb;
    }
    return false;
  };
  auto has_null = [&](size_t row) {
    for (size_t j = 0; j < width; ++j) {
      if (columns[j].conflict && !value(row, j)) return true;
    }
    return false;
  };
  thread_local std::vector<uint32_t> order;
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), key_less);  // equal keys stay in batch order
  thread_local std::vector<char> keep;
  keep.assign(n, 1);
  for (size_t i = 1; i < n; ++i) {
    if (key_less(order[i - 1], order[i])) continue;  // a new key
    if (has_null(order[i])) continue;                // NULLs never conflict in a unique index
    keep[keep_last ? order[i - 1] : order[i]] = 0;
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    rows->index[out] = rows->index[i];
    std::copy_n(rows->values.begin() + i * width, width, rows->values.begin() + out * width);
    ++out;
  }
  rows->index.resize(out);
  rows->values.resize(out * width);
}

// The batch in COPY's text format: tab-separated, \N for NULL.
void CopyText(size_t width, const Rows& rows, std::string* out) {
  out->clear();
  for (size_t i = 0; i < rows.values.size(); ++i) {
    const auto& v = rows.values[i];
    if (!v) {
      out->append("\\N");
    } else {
      for (char ch : std::string_view(rows.text).substr(v->first, v->second)) {
        switch (ch) {
          case '\\':
            out->append("\\\\");
            break;
          case '\t':
            out->append("\\t");
            break;
          case '\n':
            out->append("\\n");
            break;
          case '\r':
            out->append("\\r");
            break;
          default:
            out->push_back(ch);
        }
      }
    }
    out->push_back((i + 1) % width == 0 ? '\n' : '\t');
  }
}

}  // namespace pg_rows
}  // namespace recovery
