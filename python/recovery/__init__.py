"""recovery: recover a gap of missing data from a vendor's API or a queue, in
process, resumably, exactly once where the destination allows it.

    import recovery

    def handle(shard_id, records):           # where live records would arrive
        for r in records:
            integration.handle(json.loads(r.data), key=r.key, check_duplicate=r.maybe_redelivered)

    with recovery.Job.from_file("job.json") as job:
        job.set_sink(handle)
        job.on_progress(lambda p: print(f"{p.window_fraction:.0%}"))
        job.run()        # resumes from checkpoints; Ctrl-C stops after the current batch

A thin layer over the library's C ABI (librecovery_c), standard library only.
The library is found through $RECOVERY_C_LIBRARY, recovery.use_library(path),
a copy bundled in the package, where `cmake --install` put it, a build tree of
the repository, then the system's library path. `recovery.celery` runs a
job's shards as Celery tasks.
"""
from ._job import (ABORTED, ALREADY_PRESENT, CANCELLED, DEAD_LETTERED, DEADLINE_EXCEEDED, DELIVERED, DROPPED,
                   INCOMPLETE, INTERNAL, INVALID_ARGUMENT, LEASED, NOT_FOUND, OK, OUT_OF_WINDOW, OUTCOME_NAMES,
                   PAUSED, RESOURCE_EXHAUSTED, UNAVAILABLE, Cancelled, DeadLetter, Incomplete, InvalidJob, Job,
                   Leased, LeaseLost, Page, Paused, Progress, Provenance, Record, RecoveryError, Retry, Shard,
                   SourceRecord, status_name, version)
from ._native import loaded_from, use_library

__all__ = [
    "Job", "Record", "Provenance", "Progress", "Shard", "Page", "SourceRecord", "DeadLetter",
    "RecoveryError", "Cancelled", "Paused", "Incomplete", "Leased", "LeaseLost", "InvalidJob", "Retry",
    "version", "status_name", "use_library", "loaded_from",
    "OK", "CANCELLED", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "RESOURCE_EXHAUSTED", "ABORTED",
    "INTERNAL", "UNAVAILABLE", "PAUSED", "INCOMPLETE", "LEASED",
    "DELIVERED", "DEAD_LETTERED", "DROPPED", "OUT_OF_WINDOW", "ALREADY_PRESENT", "OUTCOME_NAMES",
]
