// The C ABI's calls a plug-in makes back into the library while the library
// calls it: reporting an error, rejecting a record, naming present keys,
// filling a map output, a page or a byte buffer. None may throw, and none
// loses what it was given: whatever it cannot store fails the call it serves
// (capi::SetterFailure).
#include <climits>
#include <exception>
#include <string>
#include <string_view>

#include "capi/internal.h"
#include "recovery/c.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Runs a setter's `body`; an exception (out of memory) is recorded in `failure`.
template <typename Body>
void Store(capi::SetterFailure* failure, const char* what, Body body) noexcept {
  if (failure->failed) return;  // nothing more once a piece is missing
  try {
    body();
  } catch (const std::exception& e) {
    const std::string reason = e.what();  // may throw too: Record catches it
    failure->Record([&] { return StrCat(what, " could not store what it was given: ", reason); });
  } catch (...) {
    failure->Record([&] { return StrCat(what, " could not store what it was given"); });
  }
}

void AddToPage(recovery_page_t* page, const char* raw, size_t raw_len, const char* id, size_t id_len,
               bool maybe_redelivered, const char* what) noexcept {
  if (page == nullptr) return;
  if ((raw == nullptr && raw_len > 0) || (id == nullptr && id_len > 0)) {
    page->failure.Record([&] { return StrCat(what, ": a NULL pointer with a non-zero length"); });
    return;
  }
  if (raw_len > RECOVERY_MAX_RECORD_BYTES) {
    page->failure.Record([&] {
      return StrCat(what, ": a record of ", raw_len, " bytes, over the limit of ", RECOVERY_MAX_RECORD_BYTES,
                    " (RECOVERY_MAX_RECORD_BYTES)");
    });
    return;
  }
  Store(&page->failure, what, [&] {
    page->page->records.Add(std::string_view(raw ? raw : "", raw_len), maybe_redelivered,
                            std::string_view(id ? id : "", id_len));
    page->page->bytes += raw_len;
  });
}

}  // namespace
}  // namespace recovery

using recovery::AddToPage;
using recovery::Store;

extern "C" {

void recovery_error_set(recovery_error_t* error, const char* message, size_t message_len) {
  if (error == nullptr || (message == nullptr && message_len > 0)) return;
  try {
    error->message.assign(message == nullptr ? "" : message, message_len);
  } catch (...) {
  }
}

void recovery_sink_result_reject(recovery_sink_result_t* result, size_t index, const char* reason,
                                 size_t reason_len) {
  if (result == nullptr) return;
  try {
    if (index >= result->count) {
      result->error = recovery::StrCat("recovery_sink_result_reject: index ", index,
                                       " is outside the batch of ", result->count, " records");
      return;
    }
    std::string why(reason != nullptr ? std::string_view(reason, reason_len) : std::string_view());
    if (why.empty()) why = "rejected by the sink callback";
    result->rejected->push_back({index, std::move(why)});
  } catch (...) {
    result->error = "recovery_sink_result_reject: out of memory";
  }
}

const char* recovery_sink_result_job(const recovery_sink_result_t* result) {
  return result == nullptr ? "" : result->job.c_str();
}

const char* recovery_sink_result_run_id(const recovery_sink_result_t* result) {
  return result == nullptr ? "" : result->run_id.c_str();
}

void recovery_presence_add(recovery_presence_t* presence, const char* key, size_t key_len) {
  if (presence == nullptr || (key == nullptr && key_len > 0)) return;
  try {
    presence->keys.emplace_back(key != nullptr ? key : "", key_len);
  } catch (...) {
    presence->failed = true;
  }
}

void recovery_map_output_set(recovery_map_output_t* out, const char* key, size_t key_len,
                             int64_t event_time_us, const char* data, size_t data_len) {
  if (out == nullptr || out->set) return;
  if ((key == nullptr && key_len > 0) || (data == nullptr && data_len > 0)) {
    out->failure.Record(
        [] { return std::string("recovery_map_output_set: a NULL pointer with a non-zero length"); });
    return;
  }
  Store(&out->failure, "recovery_map_output_set", [&] {
    const absl::Time t =
        event_time_us == INT64_MIN ? recovery::kUnknownEventTime : absl::FromUnixMicros(event_time_us);
    out->out->Add(std::string_view(key ? key : "", key_len), t, std::string_view(data ? data : "", data_len));
    out->set = true;
  });
}

void recovery_page_add(recovery_page_t* page, const char* raw, size_t raw_len) {
  AddToPage(page, raw, raw_len, nullptr, 0, false, "recovery_page_add");
}

void recovery_page_add_v2(recovery_page_t* page, const char* raw, size_t raw_len, const char* id,
                          size_t id_len, uint8_t maybe_redelivered) {
  AddToPage(page, raw, raw_len, id, id_len, maybe_redelivered != 0, "recovery_page_add_v2");
}

void recovery_page_set_next_cursor(recovery_page_t* page, const char* cursor, size_t cursor_len) {
  if (page == nullptr) return;
  if (cursor == nullptr && cursor_len > 0) {
    page->failure.Record(
        [] { return std::string("recovery_page_set_next_cursor: a NULL cursor with a non-zero length"); });
    return;
  }
  Store(&page->failure, "recovery_page_set_next_cursor", [&] {
    page->page->next_cursor.assign(cursor ? cursor : "", cursor_len);
    page->next_set = true;
  });
}

void recovery_page_set_exhausted(recovery_page_t* page, uint8_t exhausted) {
  if (page != nullptr) page->page->exhausted = exhausted != 0;
}

void recovery_page_set_total(recovery_page_t* page, int64_t total) {
  if (page != nullptr) page->page->reported_total = total < 0 ? -1 : total;
}

void recovery_page_set_progress(recovery_page_t* page, double fraction) {
  if (page == nullptr) return;
  page->page->progress = fraction >= 0 && fraction <= 1 ? fraction : -1;  // NaN and nonsense: unknown
}

void recovery_bytes_set(recovery_bytes_t* out, const char* data, size_t len) {
  if (out == nullptr) return;
  if (data == nullptr && len > 0) {
    out->failure.Record([] { return std::string("recovery_bytes_set: NULL data with a non-zero length"); });
    return;
  }
  Store(&out->failure, "recovery_bytes_set", [&] {
    out->data.assign(data ? data : "", len);
    out->set = true;
  });
}

}  // extern "C"
