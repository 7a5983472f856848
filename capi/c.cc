// The C ABI (include/recovery/c.h): thin wrappers over the C++ API. Every
// entry point catches everything; plug-in vtables become adapters owned by
// the job and lent to each run.
#include "recovery/c.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "borrowed.h"
#include "capi/internal.h"
#include "capi/plugins.h"
#include "json/json_writer.h"
#include "recovery/backfiller.h"
#include "recovery/probe.h"
#include "recovery/reconcile.h"
#include "recovery/status.h"
#include "recovery/version.h"
#include "util/status_macros.h"
#include "util/strings.h"

struct recovery_job_t {
  recovery::JobSpec spec;
  std::unique_ptr<recovery::Sink> sink;
  std::unique_ptr<recovery::Mapper> mapper;
  std::unique_ptr<recovery::Source> source;
  std::unique_ptr<recovery::CheckpointStore> store;
  std::unique_ptr<recovery::DeadLetterStore> dead_letters;
  recovery_log_fn log_fn = nullptr;
  void* log_user_data = nullptr;
  recovery_progress_fn progress_fn = nullptr;
  void* progress_user_data = nullptr;
  bool dry_run = false;
  std::vector<std::string> shard_ids;
  std::optional<recovery::ReplayOptions> replay;

  absl::Mutex mu;
  recovery::Backfiller* running ABSL_GUARDED_BY(mu) = nullptr;
  bool cancel_requested ABSL_GUARDED_BY(mu) = false;
  recovery_progress_t progress ABSL_GUARDED_BY(mu) = {};
  uint64_t already_present ABSL_GUARDED_BY(mu) = 0;  // for recovery_job_stats_ext
  std::thread thread;                                // a started run
  std::unique_ptr<absl::Notification> done;
  int result = RECOVERY_OK;
  std::string result_message;
};

namespace recovery {
namespace {

using capi::CCheckpointStore;
using capi::CMapper;
using capi::CSink;
using capi::CSource;
using capi::Fail;
using capi::FromStatus;
using capi::Guard;
using capi::ToC;

// The C status code of a run that ended so; `status` supplies the code of a
// failure.
int CodeOf(RunOutcome outcome, const absl::Status& status) {
  switch (outcome) {
    case RunOutcome::kDone:
      return RECOVERY_OK;
    case RunOutcome::kIncomplete:
      return RECOVERY_INCOMPLETE;
    case RunOutcome::kInterrupted:
      return RECOVERY_CANCELLED;
    case RunOutcome::kPaused:
      return RECOVERY_PAUSED;
    case RunOutcome::kLeased:
      return RECOVERY_LEASED;
    case RunOutcome::kLeaseLost:
    case RunOutcome::kFailed:
      return status.ok() ? RECOVERY_INTERNAL : static_cast<int>(status.code());
  }
  return RECOVERY_INTERNAL;
}

std::string Describe(const RunResult& r) {
  switch (r.outcome) {
    case RunOutcome::kDone:
      return "";
    case RunOutcome::kIncomplete:
      return "stopped at max_records; run again to continue";
    case RunOutcome::kLeased: {
      std::vector<std::string> leased;
      for (const ShardReport& s : r.shards) {
        if (s.leased_elsewhere) leased.push_back(s.shard.id);
      }
      return StrCat("leased by another worker, run again later: ", Join(leased, ", "));
    }
    default:
      return std::string(ToStd(r.status.message()));
  }
}

// A malloc'd, NUL-terminated copy of `doc` for the caller, freed with recovery_free.
int HandOver(const std::string& doc, char** out, size_t* out_len, const char* what, char** errptr) {
  char* copy = static_cast<char*>(std::malloc(doc.size() + 1));
  if (copy == nullptr) return Fail(errptr, RECOVERY_RESOURCE_EXHAUSTED, StrCat(what, ": out of memory"));
  std::memcpy(copy, doc.data(), doc.size() + 1);
  *out = copy;
  if (out_len != nullptr) *out_len = doc.size();
  return RECOVERY_OK;
}

// The job's plug-ins, lent: they outlive runs.
Components Borrow(recovery_job_t* job) {
  Components c;
  if (job->sink) c.sink = std::make_unique<BorrowedSink>(job->sink.get());
  if (job->mapper) c.mapper = std::make_unique<BorrowedMapper>(job->mapper.get());
  if (job->source) c.source = std::make_unique<BorrowedSource>(job->source.get());
  if (job->store) c.checkpoints = std::make_unique<BorrowedCheckpointStore>(job->store.get());
  if (job->dead_letters) c.dead_letters = std::make_unique<BorrowedDeadLetterStore>(job->dead_letters.get());
  return c;
}

int RunJob(recovery_job_t* job, std::string* message) {
  // A stored checkpoint store must outlive runs; without one, the spec's is built per run.
  Components c = Borrow(job);
  BackfillerOptions options;
  options.dry_run = job->dry_run;
  options.shard_ids = job->shard_ids;
  options.replay = job->replay;
  if (job->log_fn != nullptr) {
    options.on_log = [job](const LogEvent& e) {
      job->log_fn(job->log_user_data, static_cast<int>(e.level), e.message.data(), e.message.size(),
                  e.fields_json.data(), e.fields_json.size());
    };
  }
  options.on_progress = [job](const Progress& p) {
    const recovery_progress_t snapshot = ToC(p);
    {
      absl::MutexLock lock(&job->mu);
      job->progress = snapshot;
      job->already_present = p.totals.records_already_present;
    }
    if (job->progress_fn != nullptr) job->progress_fn(job->progress_user_data, &snapshot);
  };
  absl::StatusOr<std::unique_ptr<Backfiller>> b =
      Backfiller::Create(job->spec, std::move(c), std::move(options));
  if (!b.ok()) {
    *message = std::string(ToStd(b.status().message()));
    return static_cast<int>(b.status().code());
  }
  {
    absl::MutexLock lock(&job->mu);
    job->running = b->get();
    if (job->cancel_requested) (*b)->Cancel();
  }
  RunResult r = (*b)->Run();
  {
    absl::MutexLock lock(&job->mu);
    job->running = nullptr;
    job->cancel_requested = false;
    job->progress = ToC(r.progress);
    job->already_present = r.progress.totals.records_already_present;
  }
  *message = Describe(r);
  return CodeOf(r.outcome, r.status);
}

bool Running(recovery_job_t* job) { return job->thread.joinable(); }

absl::StatusOr<std::string> JobStatusJson(recovery_job_t* job) {
  // The stored state alone: no source or sink is built, so no secret is read.
  std::unique_ptr<CheckpointStore> store;
  if (job->store) store = std::make_unique<BorrowedCheckpointStore>(job->store.get());
  std::optional<bool> one_shard;
  if (job->source) one_shard = job->source->plans_one_shard();
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobState> state,
                            JobState::Open(job->spec, std::move(store), one_shard));
  RECOVERY_ASSIGN_OR_RETURN(std::vector<ShardReport> reports, state->Status());
  return recovery::StatusJson(job->spec.name, reports);
}

// `missing(vtable)` names the first required function that is NULL, or is nullptr.
template <typename VTable, typename Adapter, typename Slot, typename Missing>
int Install(recovery_job_t* job, const VTable* v, uint32_t version, Missing missing, Slot& slot,
            const char* what, char** errptr) {
  if (v == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, StrCat(what, ": the vtable is NULL"));
  // From here on the plug-in's destroy() runs exactly once, whatever happens.
  auto adapter = std::make_unique<Adapter>(*v);
  if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, StrCat(what, ": the job is NULL"));
  if (v->version != version) {
    return Fail(
        errptr, RECOVERY_INVALID_ARGUMENT,
        StrCat(what, ": vtable version ", v->version, " is not supported (this library has ", version, ")"));
  }
  if (const char* name = missing(*v); name != nullptr) {
    return Fail(errptr, RECOVERY_INVALID_ARGUMENT,
                StrCat(what, ": the vtable's `", name, "` is NULL, and it is required"));
  }
  if (Running(job)) return Fail(errptr, RECOVERY_FAILED_PRECONDITION, StrCat(what, ": the job is running"));
  slot = std::move(adapter);
  return RECOVERY_OK;
}

}  // namespace
}  // namespace recovery

using recovery::capi::Fail;
using recovery::capi::Guard;

extern "C" {

const char* recovery_version(void) { return RECOVERY_VERSION_STRING; }

uint32_t recovery_version_number(void) { return RECOVERY_VERSION_NUMBER; }

uint8_t recovery_code_resumable(int code) {
  using recovery::RunOutcome;
  for (RunOutcome o : {RunOutcome::kIncomplete, RunOutcome::kInterrupted, RunOutcome::kPaused,
                       RunOutcome::kLeased, RunOutcome::kDone, RunOutcome::kLeaseLost, RunOutcome::kFailed}) {
    // Only the resumable outcomes have codes of their own; a failure's code is its status's.
    if (recovery::IsResumable(o) && recovery::CodeOf(o, absl::OkStatus()) == code) return 1;
  }
  return 0;
}

const char* recovery_status_name(int code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  if (code >= 0 && code <= 16) return kNames[code];
  if (code == RECOVERY_PAUSED) return "PAUSED";
  if (code == RECOVERY_INCOMPLETE) return "INCOMPLETE";
  if (code == RECOVERY_LEASED) return "LEASED";
  return "UNRECOGNIZED";
}

void recovery_free(void* p) { std::free(p); }

int recovery_job_create(const char* spec_json, size_t spec_len, const char* base_dir, recovery_job_t** job,
                        char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_create: job is NULL");
    *job = nullptr;
    if (spec_json == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_create: spec_json is NULL");
    absl::StatusOr<recovery::JobSpec> spec = recovery::JobSpec::Parse(std::string_view(spec_json, spec_len));
    if (!spec.ok()) return recovery::FromStatus(spec.status(), errptr);
    if (base_dir != nullptr) spec->base_dir = base_dir;
    auto created = std::make_unique<recovery_job_t>();
    created->spec = *std::move(spec);
    *job = created.release();
    return RECOVERY_OK;
  });
}

int recovery_job_create_from_file(const char* path, recovery_job_t** job, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_create_from_file: job is NULL");
    *job = nullptr;
    if (path == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_create_from_file: path is NULL");
    absl::StatusOr<recovery::JobSpec> spec = recovery::JobSpec::FromFile(path);
    if (!spec.ok()) return recovery::FromStatus(spec.status(), errptr);
    auto created = std::make_unique<recovery_job_t>();
    created->spec = *std::move(spec);
    *job = created.release();
    return RECOVERY_OK;
  });
}

void recovery_job_destroy(recovery_job_t* job) {
  if (job == nullptr) return;
  try {
    if (job->thread.joinable()) job->thread.join();
    delete job;
  } catch (...) {
  }
}

int recovery_job_set_sink(recovery_job_t* job, const recovery_sink_vtable_t* sink, char** errptr) {
  std::unique_ptr<recovery::Sink> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_sink_vtable_t, recovery::CSink>(
        job, sink, RECOVERY_SINK_VTABLE_VERSION,
        [](const recovery_sink_vtable_t& v) { return v.write ? nullptr : "write"; },
        job ? job->sink : scratch, "recovery_job_set_sink", errptr);
  });
}

int recovery_job_set_sink_v2(recovery_job_t* job, const recovery_sink_vtable_v2_t* sink, char** errptr) {
  std::unique_ptr<recovery::Sink> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_sink_vtable_v2_t, recovery::capi::CSinkV2>(
        job, sink, RECOVERY_SINK_VTABLE_VERSION_2,
        [](const recovery_sink_vtable_v2_t& v) { return v.write || v.write_v2 ? nullptr : "write_v2"; },
        job ? job->sink : scratch, "recovery_job_set_sink_v2", errptr);
  });
}

int recovery_job_set_sink_v3(recovery_job_t* job, const recovery_sink_vtable_v3_t* sink, char** errptr) {
  std::unique_ptr<recovery::Sink> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_sink_vtable_v3_t, recovery::capi::CSinkV3>(
        job, sink, RECOVERY_SINK_VTABLE_VERSION_3,
        [](const recovery_sink_vtable_v3_t& v) { return v.write || v.write_v2 ? nullptr : "write_v2"; },
        job ? job->sink : scratch, "recovery_job_set_sink_v3", errptr);
  });
}

int recovery_job_set_mapper(recovery_job_t* job, const recovery_mapper_vtable_t* mapper, char** errptr) {
  std::unique_ptr<recovery::Mapper> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_mapper_vtable_t, recovery::CMapper>(
        job, mapper, RECOVERY_MAPPER_VTABLE_VERSION,
        [](const recovery_mapper_vtable_t& v) { return v.map ? nullptr : "map"; },
        job ? job->mapper : scratch, "recovery_job_set_mapper", errptr);
  });
}

int recovery_job_set_source(recovery_job_t* job, const recovery_source_vtable_t* source, char** errptr) {
  std::unique_ptr<recovery::Source> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_source_vtable_t, recovery::CSource>(
        job, source, RECOVERY_SOURCE_VTABLE_VERSION,
        [](const recovery_source_vtable_t& v) { return v.fetch ? nullptr : "fetch"; },
        job ? job->source : scratch, "recovery_job_set_source", errptr);
  });
}

int recovery_job_set_source_v2(recovery_job_t* job, const recovery_source_vtable_v2_t* source,
                               char** errptr) {
  std::unique_ptr<recovery::Source> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_source_vtable_v2_t, recovery::capi::CSourceV2>(
        job, source, RECOVERY_SOURCE_VTABLE_VERSION_2,
        [](const recovery_source_vtable_v2_t& v) { return v.fetch ? nullptr : "fetch"; },
        job ? job->source : scratch, "recovery_job_set_source_v2", errptr);
  });
}

int recovery_job_set_checkpoint_store(recovery_job_t* job, const recovery_checkpoint_store_vtable_t* store,
                                      char** errptr) {
  std::unique_ptr<recovery::CheckpointStore> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_checkpoint_store_vtable_t, recovery::CCheckpointStore>(
        job, store, RECOVERY_CHECKPOINT_STORE_VTABLE_VERSION,
        [](const recovery_checkpoint_store_vtable_t& v) {
          return !v.load ? "load" : !v.save ? "save" : !v.remove ? "remove" : nullptr;
        },
        job ? job->store : scratch, "recovery_job_set_checkpoint_store", errptr);
  });
}

int recovery_job_set_dead_letters(recovery_job_t* job, const recovery_dead_letter_vtable_t* dead_letters,
                                  char** errptr) {
  std::unique_ptr<recovery::DeadLetterStore> scratch;
  return Guard(errptr, [&] {
    return recovery::Install<recovery_dead_letter_vtable_t, recovery::capi::CDeadLetterStore>(
        job, dead_letters, RECOVERY_DEAD_LETTER_VTABLE_VERSION,
        [](const recovery_dead_letter_vtable_t& v) { return v.add ? nullptr : "add"; },
        job ? job->dead_letters : scratch, "recovery_job_set_dead_letters", errptr);
  });
}

int recovery_job_set_log_callback(recovery_job_t* job, recovery_log_fn fn, void* user_data) {
  if (job == nullptr) return RECOVERY_INVALID_ARGUMENT;
  if (recovery::Running(job)) return RECOVERY_FAILED_PRECONDITION;
  job->log_fn = fn;
  job->log_user_data = user_data;
  return RECOVERY_OK;
}

int recovery_job_set_progress_callback(recovery_job_t* job, recovery_progress_fn fn, void* user_data) {
  if (job == nullptr) return RECOVERY_INVALID_ARGUMENT;
  if (recovery::Running(job)) return RECOVERY_FAILED_PRECONDITION;
  job->progress_fn = fn;
  job->progress_user_data = user_data;
  return RECOVERY_OK;
}

int recovery_job_set_dry_run(recovery_job_t* job, uint8_t dry_run) {
  if (job == nullptr) return RECOVERY_INVALID_ARGUMENT;
  if (recovery::Running(job)) return RECOVERY_FAILED_PRECONDITION;
  job->dry_run = dry_run != 0;
  return RECOVERY_OK;
}

int recovery_job_add_shard(recovery_job_t* job, const char* shard_id, size_t shard_id_len, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_add_shard: job is NULL");
    if (shard_id == nullptr || shard_id_len == 0) {
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_add_shard: shard_id is empty");
    }
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION, "recovery_job_add_shard: the job is running");
    }
    job->shard_ids.emplace_back(shard_id, shard_id_len);
    return RECOVERY_OK;
  });
}

int recovery_job_set_replay(recovery_job_t* job, uint8_t enabled, const char* reason, size_t reason_len,
                            int64_t since_unix_us, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_set_replay: job is NULL");
    if (reason == nullptr && reason_len > 0) {
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_set_replay: reason is NULL with a length");
    }
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION, "recovery_job_set_replay: the job is running");
    }
    if (enabled == 0) {
      job->replay.reset();
      return RECOVERY_OK;
    }
    recovery::ReplayOptions& replay = job->replay.emplace();
    if (reason_len > 0) replay.reason.assign(reason, reason_len);
    if (since_unix_us != INT64_MIN) replay.since = absl::FromUnixMicros(since_unix_us);
    return RECOVERY_OK;
  });
}

int recovery_job_status_json(recovery_job_t* job, char** json, size_t* json_len, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_status_json: job is NULL");
    if (json == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_status_json: json is NULL");
    *json = nullptr;
    absl::StatusOr<std::string> doc = recovery::JobStatusJson(job);
    if (!doc.ok()) return recovery::FromStatus(doc.status(), errptr);
    return recovery::HandOver(*doc, json, json_len, "recovery_job_status_json", errptr);
  });
}

int recovery_job_reconcile_json(recovery_job_t* job, int64_t bucket_us, uint8_t trust_reported_total,
                                char** json, size_t* json_len, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_reconcile_json: job is NULL");
    if (json == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_reconcile_json: json is NULL");
    *json = nullptr;
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION,
                  "recovery_job_reconcile_json: the job is running; reconcile before or after a run");
    }
    recovery::ReconcileOptions options;
    options.bucket = absl::Microseconds(bucket_us);
    options.trust_reported_total = trust_reported_total != 0;
    absl::StatusOr<recovery::ReconcileReport> report =
        recovery::Reconcile(job->spec, recovery::Borrow(job), options);
    if (!report.ok()) return recovery::FromStatus(report.status(), errptr);
    return recovery::HandOver(recovery::ReconcileReportJson(*report, options.bucket), json, json_len,
                              "recovery_job_reconcile_json", errptr);
  });
}

int recovery_job_probe_json(recovery_job_t* job, int32_t samples, int32_t pages, int32_t max_requests,
                            char** json, size_t* json_len, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_probe_json: job is NULL");
    if (json == nullptr)
      return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_probe_json: json is NULL");
    *json = nullptr;
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION,
                  "recovery_job_probe_json: the job is running; probe before a run");
    }
    recovery::ProbeOptions options;
    if (samples >= 0) options.samples = samples;
    if (pages != 0) options.pages = pages;
    if (max_requests != 0) options.max_requests = max_requests;
    absl::StatusOr<recovery::ProbeReport> report = recovery::Probe(job->spec, recovery::Borrow(job), options);
    if (!report.ok()) return recovery::FromStatus(report.status(), errptr);
    return recovery::HandOver(recovery::ProbeReportJson(*report), json, json_len, "recovery_job_probe_json",
                              errptr);
  });
}

int recovery_job_run(recovery_job_t* job, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_run: job is NULL");
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION,
                  "recovery_job_run: the job was started and not waited for");
    }
    std::string message;
    const int code = recovery::RunJob(job, &message);
    if (code != RECOVERY_OK) recovery::capi::SetErr(errptr, message);
    return code;
  });
}

int recovery_job_start(recovery_job_t* job, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_start: job is NULL");
    if (recovery::Running(job)) {
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION,
                  "recovery_job_start: the job was started and not waited for");
    }
    job->done = std::make_unique<absl::Notification>();
    job->thread = std::thread([job] {
      try {
        job->result = recovery::RunJob(job, &job->result_message);
      } catch (const std::exception& e) {
        job->result = RECOVERY_INTERNAL;
        job->result_message = recovery::StrCat("internal error: ", e.what());
      } catch (...) {
        job->result = RECOVERY_INTERNAL;
        job->result_message = "internal error: unknown exception";
      }
      job->done->Notify();
    });
    return RECOVERY_OK;
  });
}

int recovery_job_wait_for(recovery_job_t* job, int64_t timeout_us, char** errptr) {
  return Guard(errptr, [&] {
    if (job == nullptr) return Fail(errptr, RECOVERY_INVALID_ARGUMENT, "recovery_job_wait: job is NULL");
    if (!recovery::Running(job))
      return Fail(errptr, RECOVERY_FAILED_PRECONDITION, "recovery_job_wait: not started");
    if (timeout_us >= 0 && !job->done->WaitForNotificationWithTimeout(absl::Microseconds(timeout_us))) {
      return Fail(errptr, RECOVERY_DEADLINE_EXCEEDED, "recovery_job_wait_for: still running");
    }
    job->thread.join();
    if (job->result != RECOVERY_OK) recovery::capi::SetErr(errptr, job->result_message);
    return job->result;
  });
}

int recovery_job_wait(recovery_job_t* job, char** errptr) { return recovery_job_wait_for(job, -1, errptr); }

int recovery_job_cancel(recovery_job_t* job) {
  if (job == nullptr) return RECOVERY_INVALID_ARGUMENT;
  try {
    absl::MutexLock lock(&job->mu);
    job->cancel_requested = true;
    if (job->running != nullptr) job->running->Cancel();
    return RECOVERY_OK;
  } catch (...) {
    return RECOVERY_INTERNAL;
  }
}

int recovery_job_stats(recovery_job_t* job, recovery_progress_t* out) {
  if (job == nullptr || out == nullptr) return RECOVERY_INVALID_ARGUMENT;
  absl::MutexLock lock(&job->mu);
  *out = job->progress;
  return RECOVERY_OK;
}

int recovery_job_stats_ext(recovery_job_t* job, recovery_progress_ext_t* out) {
  if (job == nullptr || out == nullptr ||
      out->size < offsetof(recovery_progress_ext_t, records_already_present)) {
    return RECOVERY_INVALID_ARGUMENT;
  }
  recovery_progress_ext_t ext{};
  ext.size = static_cast<uint32_t>(std::min<size_t>(out->size, sizeof(ext)));
  {
    absl::MutexLock lock(&job->mu);
    ext.records_already_present = job->already_present;
  }
  std::memcpy(out, &ext, ext.size);  // only what the caller's struct has room for
  return RECOVERY_OK;
}

}  // extern "C"
