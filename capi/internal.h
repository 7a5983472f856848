// What the C ABI's files share: the opaque structs behind c.h's handles,
// errors through `char** errptr`, and exception guards. Not installed.
#ifndef RECOVERY_CAPI_INTERNAL_H_
#define RECOVERY_CAPI_INTERNAL_H_

#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "recovery/c.h"
#include "recovery/progress.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "util/strings.h"

namespace recovery::capi {

// Why a setter (recovery_page_add, recovery_bytes_set, ...) could not store
// what it was given, so that the call it serves fails instead of losing data.
// Recording it allocates nothing but the message, and a message that cannot
// be built leaves the flag set.
struct SetterFailure {
  bool failed = false;
  std::string why;

  template <typename MakeMessage>
  void Record(MakeMessage make) noexcept {
    if (failed) return;  // the first failure stands
    failed = true;
    try {
      why = make();
    } catch (...) {
    }
  }
  std::string Describe(std::string_view setter) const {
    return why.empty() ? StrCat(setter, " could not store what it was given (out of memory)") : why;
  }
};

}  // namespace recovery::capi

struct recovery_error_t {
  std::string message;
};

struct recovery_sink_result_t {
  std::vector<recovery::SinkRejection>* rejected;
  size_t count;             // records in the batch
  std::string error;        // a call that was wrong or could not be recorded fails the batch
  std::string job, run_id;  // provenance, NUL-terminated for the accessors
};

struct recovery_presence_t {
  std::vector<std::string> keys;
  bool failed = false;  // a key could not be recorded: the answer is incomplete
};

struct recovery_map_output_t {
  recovery::RecordBatch* out;
  bool set = false;
  recovery::capi::SetterFailure failure;  // the record goes to dead letters
};

struct recovery_page_t {
  recovery::Page* page;
  bool next_set = false;
  recovery::capi::SetterFailure failure;  // the fetch fails
};

struct recovery_bytes_t {
  std::string data;
  bool set = false;
  recovery::capi::SetterFailure failure;  // the load fails
};

namespace recovery::capi {

// *errptr = a malloc'd copy of `message`; nothing when errptr is NULL.
void SetErr(char** errptr, std::string_view message);
// SetErr, then `code`.
int Fail(char** errptr, int code, std::string_view message);
int FromStatus(const absl::Status& s, char** errptr);
// A status from a callback's return code and message; `what` names the call.
absl::Status CallbackStatus(int code, const recovery_error_t& error, std::string_view what);
int64_t Micros(absl::Time t);
recovery_progress_t ToC(const Progress& p);

// Runs `body`, turning any escaped exception into RECOVERY_INTERNAL.
template <typename Body>
int Guard(char** errptr, Body body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(errptr, RECOVERY_INTERNAL, StrCat("internal error: ", e.what()));
  } catch (...) {
    return Fail(errptr, RECOVERY_INTERNAL, "internal error: unknown exception");
  }
}

}  // namespace recovery::capi

#endif  // RECOVERY_CAPI_INTERNAL_H_
