"""The job API over the C ABI: Job, its records, progress and errors, and
plug-ins (sources, mappers, sinks, checkpoint stores, dead-letter receivers)
written as ordinary Python callables or classes."""
from __future__ import annotations

import ctypes
import datetime
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Union

from . import _native
from ._native import lib

OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 3, 4, 5
ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED = 6, 7, 8, 9, 10
OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED = 11, 12, 13, 14, 15, 16
PAUSED, INCOMPLETE, LEASED = 100, 101, 102
_MAP_EMIT, _MAP_DROP, _MAP_REJECT = 0, 1, 2

# What became of a record, as a source's commit() is told.
DELIVERED, DEAD_LETTERED, DROPPED, OUT_OF_WINDOW, ALREADY_PRESENT = 0, 1, 2, 3, 4
OUTCOME_NAMES = ("delivered", "dead_lettered", "dropped", "out_of_window", "already_present")


def version() -> str:
    """The library's version, e.g. "0.1.0"."""
    return lib().recovery_version().decode()


def status_name(code: int) -> str:
    """"OK", "INVALID_ARGUMENT", ... for a status code."""
    return lib().recovery_status_name(code).decode()


# ---- errors -------------------------------------------------------------

class RecoveryError(Exception):
    """A failed call or run: `code`, `status_name` (e.g. "INVALID_ARGUMENT") and
    `message`. A run's error is one of the subclasses below when its outcome
    has a name of its own."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.status_name = status_name(code)
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    @property
    def resumable(self) -> bool:
        """True when running the job again, with nothing fixed, continues where it stopped."""
        return bool(lib().recovery_code_resumable(self.code))


class Cancelled(RecoveryError):
    """The run was cancelled; run again to resume."""


class Paused(RecoveryError):
    """The source's quota ran out; run again later to resume."""


class Incomplete(RecoveryError):
    """The run stopped at the job's max_records; run again to continue."""


class Leased(RecoveryError):
    """A shard is leased by another worker; run again later."""


class LeaseLost(RecoveryError):
    """Another worker took a shard's lease over mid-run; it finishes the shard."""


class InvalidJob(RecoveryError):
    """The job spec, a plug-in or a call was wrong (the message names what)."""


_ERRORS = {CANCELLED: Cancelled, PAUSED: Paused, INCOMPLETE: Incomplete, LEASED: Leased, ABORTED: LeaseLost,
           INVALID_ARGUMENT: InvalidJob}


def _error(code: int, message: str) -> RecoveryError:
    return _ERRORS.get(code, RecoveryError)(code, message)


class Retry(Exception):
    """Raise from a plug-in to have the call retried later (a transient failure)."""


def _call(fn, *args) -> None:
    """Calls a fallible function, raising RecoveryError with its message."""
    err = ctypes.c_void_p()
    code = fn(*args, ctypes.byref(err))
    if code != OK:
        message = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
        lib().recovery_free(err)
        raise _error(code, message)


def _describe(exc: BaseException) -> bytes:
    """The exception's type and text, and where it was raised (the innermost frame)."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {os.path.basename(last.filename)}:{last.lineno} in {last.name})"
    return text.encode("utf-8", "replace")


def _fail(error: int, exc: BaseException) -> int:
    """Tells the library why a callback failed; the code it returns."""
    text = _describe(exc)
    lib().recovery_error_set(error, text, len(text))
    return UNAVAILABLE if isinstance(exc, Retry) else INTERNAL


def _guarded(body: Callable[..., Optional[int]]) -> Callable[..., int]:
    """A C callback around `body`, whose last argument is the C `error`:
    OK when `body` returns None (or the code it returns), the exception's
    text when it raises. Nothing unwinds into C."""
    def callback(*args) -> int:
        try:
            code = body(*args[:-1])
            return OK if code is None else code
        except BaseException as exc:
            return _fail(args[-1], exc)
    return callback


def _method(plugin: Any, name: str) -> Callable:
    """`plugin` itself when it is a plain callable, else its method `name`."""
    return plugin if callable(plugin) and not hasattr(plugin, name) else getattr(plugin, name)


def _text(value: Union[str, bytes, None]) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


# ---- what plug-ins see and return ------------------------------------------

class Record(NamedTuple):
    """A mapped record, as a sink receives it."""
    key: str
    event_time_us: int  # -2**63 when unknown
    data: bytes
    maybe_redelivered: bool


class Provenance(NamedTuple):
    """Where a batch comes from, for a sink that keeps it with each record so that
    recovered records can be told from a live feed's (set_sink(..., with_provenance=True))."""
    job: str
    run_id: str  # this run of the job: a resumed job is a new run
    shard_id: str
    recovered_at_us: int  # when the batch was handed to the sink, µs since the epoch


class Progress(NamedTuple):
    records_fetched: int
    records_delivered: int
    records_dropped: int
    records_out_of_window: int
    dead_letters: int
    pages: int
    bytes: int
    retries: int
    records_this_run: int
    shards_total: int
    shards_done: int
    shards_failed: int
    shards_running: int
    window_fraction: float
    records_per_second: float
    elapsed_us: int
    eta_us: int
    records_already_present: int


class Shard(NamedTuple):
    """The shard a source reads: [start_us, end_us) in microseconds since the epoch."""
    id: str
    start_us: int
    end_us: int


@dataclass
class SourceRecord:
    """A raw record with what the source knows about it."""
    data: Union[bytes, str]
    id: Optional[str] = None  # the source's own id (a message id), kept with a dead letter
    maybe_redelivered: bool = False  # it may have been delivered before (received again)


@dataclass
class Page:
    """What a source's fetch returns: records in order, where the next page
    starts, and whether the shard is exhausted (proved to have no more)."""
    records: List[Union[bytes, str, SourceRecord]] = field(default_factory=list)
    next_cursor: Union[str, bytes] = ""
    exhausted: bool = False
    total: Optional[int] = None  # how many records the source says the shard holds
    progress: Optional[float] = None  # the fraction of the shard done after this page


class DeadLetter(NamedTuple):
    """A record the job could not deliver, as a dead-letter receiver gets it."""
    job: str
    shard_id: str
    cursor: bytes
    index: int
    reason: str
    raw: bytes
    source_id: str
    time_us: int


def _records(records, count) -> List[Record]:
    return [Record(ctypes.string_at(r.key, r.key_len).decode("utf-8", "surrogateescape"), r.event_time_us,
                   ctypes.string_at(r.data, r.data_len), bool(r.maybe_redelivered)) for r in records[:count]]


# ---- the job ---------------------------------------------------------------

class Job:
    """A recovery job (one JSON job spec). Not thread-safe, except cancel()."""

    def __init__(self, spec: Union[str, Dict[str, Any]], base_dir: Optional[str] = None):
        """`spec`: the job spec as a JSON string or a dict; relative paths in it
        resolve against `base_dir` (default: the working directory)."""
        text = (json.dumps(spec) if isinstance(spec, dict) else spec).encode()
        handle = ctypes.c_void_p()
        _call(lib().recovery_job_create, text, len(text), base_dir.encode() if base_dir else None,
              ctypes.byref(handle))
        self._init(handle)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike]) -> "Job":
        """A job from a job file; its relative paths resolve against the file's directory."""
        job = cls.__new__(cls)
        handle = ctypes.c_void_p()
        _call(lib().recovery_job_create_from_file, os.fsencode(path), ctypes.byref(handle))
        job._init(handle)
        return job

    def _init(self, handle) -> None:
        self._handle = handle
        self._keep: List[Any] = []  # ctypes callbacks and vtables must outlive the job
        self._started = False

    def _live(self):
        if not self._handle:
            raise InvalidJob(INVALID_ARGUMENT, "the job is closed")
        return self._handle

    def _install(self, setter, vtable) -> None:
        self._keep.append(vtable)
        _call(setter, self._live(), ctypes.byref(vtable))

    # -- plug-ins --

    def set_sink(self, write: Callable[..., Optional[Dict[int, str]]],
                 present: Optional[Callable[[str, List[Record]], Iterable[str]]] = None,
                 count: Optional[Callable[[int, int, int], Sequence[int]]] = None,
                 with_provenance: bool = False) -> None:
        """`write(shard_id, records)` receives each batch; returning acknowledges
        it. It may return {index: reason} for records the destination will never
        accept: they go to dead letters and the rest counts as delivered.
        Raising fails the batch with the exception's text (raise Retry to have
        it retried). Calls never overlap.

        `present(shard_id, records)`, when given, answers the job's
        "skip_already_present": the keys among `records` that the destination
        already holds; those are not delivered again.

        `count(start_us, width_us, buckets)`, when given, lets reconcile() count
        the destination: how many records it holds per time bucket, by their
        event time ([start_us + i * width_us, start_us + (i + 1) * width_us)
        for i < buckets), as a sequence of `buckets` integers.

        With `with_provenance`, `write(shard_id, records, provenance)` also gets
        the batch's Provenance (job, run id, shard, time), to keep with each
        record."""

        @_guarded
        def write_v2(_, shard_id, records, count, result):
            shard = shard_id.decode()
            if with_provenance:
                origin = Provenance(lib().recovery_sink_result_job(result).decode(),
                                    lib().recovery_sink_result_run_id(result).decode(), shard, time.time_ns() // 1000)
                rejected = write(shard, _records(records, count), origin)
            else:
                rejected = write(shard, _records(records, count))
            for index, reason in (rejected.items() if isinstance(rejected, dict) else ()):
                text = str(reason).encode("utf-8", "replace")
                lib().recovery_sink_result_reject(result, int(index), text, len(text))

        @_guarded
        def check(_, shard_id, records, count, presence):
            for key in present(shard_id.decode(), _records(records, count)) or ():
                raw = _text(key)
                lib().recovery_presence_add(presence, raw, len(raw))

        @_guarded
        def count_(_, start_us, width_us, buckets, counts):
            values = list(count(start_us, width_us, buckets))
            if len(values) != buckets:
                raise ValueError(f"count returned {len(values)} numbers for {buckets} buckets")
            for i, n in enumerate(values):
                counts[i] = int(n)

        present_fn = _native.SINK_PRESENT(check) if present else _native.SINK_PRESENT(0)
        if count is None:  # version 2: what every library since the presence check has
            self._install(lib().recovery_job_set_sink_v2,
                          _native.SinkVTableV2(2, None, _native.SINK_WRITE(0), _native.DESTROY(0),
                                               _native.SINK_WRITE_V2(write_v2), present_fn))
        else:
            self._install(_native.require("recovery_job_set_sink_v3"),
                          _native.SinkVTableV3(3, None, _native.SINK_WRITE(0), _native.DESTROY(0),
                                               _native.SINK_WRITE_V2(write_v2), present_fn,
                                               _native.SINK_COUNT(count_)))

    def set_mapper(self, fn: Callable[[str, bytes], Optional[tuple]]) -> None:
        """`fn(shard_id, raw_bytes)` returns None to drop the record, or
        (key, event_time_us or None, data as str/bytes/dict). Raising sends the
        record to dead letters with the exception's text. Called from several
        threads at once."""

        def map_(_, shard_id, raw, raw_len, out, error):
            try:
                result = fn(shard_id.decode(), ctypes.string_at(raw, raw_len))
                if result is None:
                    return _MAP_DROP
                key, event_time_us, data = result
                if isinstance(data, dict):
                    data = json.dumps(data, separators=(",", ":"))
                key, data = _text(key), _text(data)
                t = -(2 ** 63) if event_time_us is None else int(event_time_us)
                lib().recovery_map_output_set(out, key, len(key), t, data, len(data))
                return _MAP_EMIT
            except BaseException as exc:
                text = _describe(exc)
                lib().recovery_error_set(error, text, len(text))
                return _MAP_REJECT

        self._install(lib().recovery_job_set_mapper,
                      _native.MapperVTable(1, None, _native.MAP(map_), _native.DESTROY(0)))

    def set_source(self, source: Any) -> None:
        """A source of raw records: an object with `fetch(shard, cursor)` and,
        optionally, `commit(shard, cursor, next_cursor, outcomes)` (or just a
        fetch function).

        `fetch(shard: Shard, cursor: bytes)` returns the Page that starts at
        `cursor` (b"": the shard's beginning); it is called again with the same
        cursor after a failure, and from several threads at once for different
        shards. `commit` is told, once the page is safe (every record
        acknowledged by the sink or in the dead letters, the checkpoint past
        it), the page's cursor, the next one, and one outcome per record
        (DELIVERED, DEAD_LETTERED, ...): a queue acknowledges its messages
        there, never earlier. For one shard, fetch and commit alternate."""
        fetch = _method(source, "fetch")
        commit = getattr(source, "commit", None)

        @_guarded
        def fetch_(_, shard_id, start_us, end_us, cursor, cursor_len, page):
            result = fetch(Shard(shard_id.decode(), start_us, end_us), ctypes.string_at(cursor, cursor_len))
            if not isinstance(result, Page):
                raise TypeError(f"fetch returned {type(result).__name__}, not a recovery.Page")
            for r in result.records:
                if isinstance(r, SourceRecord):
                    data, rid = _text(r.data), _text(r.id)
                    lib().recovery_page_add_v2(page, data, len(data), rid, len(rid), int(r.maybe_redelivered))
                else:
                    data = _text(r)
                    lib().recovery_page_add_v2(page, data, len(data), None, 0, 0)
            next_cursor = _text(result.next_cursor)
            lib().recovery_page_set_next_cursor(page, next_cursor, len(next_cursor))
            lib().recovery_page_set_exhausted(page, int(bool(result.exhausted)))
            if result.total is not None:
                lib().recovery_page_set_total(page, int(result.total))
            if result.progress is not None:
                lib().recovery_page_set_progress(page, float(result.progress))

        @_guarded
        def commit_(_, shard_id, cursor, cursor_len, next_cursor, next_len, outcomes, count):
            commit(shard_id.decode(), ctypes.string_at(cursor, cursor_len),
                   ctypes.string_at(next_cursor, next_len), list(outcomes[:count]))

        self._install(_native.require("recovery_job_set_source_v2"),
                      _native.SourceVTableV2(2, None, _native.FETCH(fetch_), _native.DESTROY(0),
                                             _native.COMMIT(commit_) if commit else _native.COMMIT(0)))

    def set_checkpoint_store(self, store: Any) -> None:
        """Checkpoints kept by `store`: `load(job, shard_id)` returns the bytes
        last saved or None, `save(job, shard_id, data: bytes)` replaces them
        atomically, `remove(job, shard_id)` forgets them. Called from several
        threads at once."""

        @_guarded
        def load(_, job, shard, out):
            data = store.load(job.decode(), shard.decode())
            if data is None:
                return NOT_FOUND
            data = _text(data)
            lib().recovery_bytes_set(out, data, len(data))
            return None

        @_guarded
        def save(_, job, shard, data, size):
            store.save(job.decode(), shard.decode(), ctypes.string_at(data, size))

        @_guarded
        def remove(_, job, shard):
            store.remove(job.decode(), shard.decode())

        self._install(lib().recovery_job_set_checkpoint_store,
                      _native.StoreVTable(1, None, _native.STORE_LOAD(load), _native.STORE_SAVE(save),
                                          _native.STORE_REMOVE(remove), _native.DESTROY(0)))

    def set_dead_letters(self, receiver: Any) -> None:
        """Dead letters go to `receiver` instead of the spec's "dead_letters": a
        callable taking a DeadLetter, or an object with `add(letter)` and
        optionally `flush()` (make every letter added durable; the shard's
        checkpoint moves past their page only after it returns, so a crash in
        between hands them over again). Calls never overlap."""
        add = _method(receiver, "add")
        flush = getattr(receiver, "flush", None)

        @_guarded
        def add_(_, letter):
            d = letter.contents
            add(DeadLetter(d.job.decode(), d.shard_id.decode(), ctypes.string_at(d.cursor, d.cursor_len), d.index,
                           ctypes.string_at(d.reason, d.reason_len).decode("utf-8", "replace"),
                           ctypes.string_at(d.raw, d.raw_len),
                           ctypes.string_at(d.source_id, d.source_id_len).decode("utf-8", "replace"), d.time_us))

        @_guarded
        def flush_(_):
            flush()

        self._install(_native.require("recovery_job_set_dead_letters"),
                      _native.DeadLetterVTable(1, None, _native.DEAD_ADD(add_),
                                               _native.DEAD_FLUSH(flush_) if flush else _native.DEAD_FLUSH(0),
                                               _native.DESTROY(0)))

    # -- observing --

    def on_progress(self, fn: Callable[[Progress], None]) -> None:
        """`fn(Progress)` after every committed page (from worker threads, serialized)."""

        def call(_, p):
            try:
                fn(Progress(*(getattr(p.contents, f) for f in _native.PROGRESS_V1_FIELDS), self._already_present()))
            except BaseException:
                pass  # a progress display must not stop a recovery

        cb = _native.PROGRESS(call)
        self._keep.append(cb)
        lib().recovery_job_set_progress_callback(self._live(), cb, None)

    def on_log(self, fn: Callable[[int, str, Dict[str, Any]], None]) -> None:
        """`fn(level, message, fields)`: level 0-3 (debug..error), fields a dict."""

        def call(_, level, message, message_len, fields, fields_len):
            try:
                fn(level, ctypes.string_at(message, message_len).decode("utf-8", "replace"),
                   json.loads(ctypes.string_at(fields, fields_len) or b"{}"))
            except BaseException:
                pass

        cb = _native.LOG(call)
        self._keep.append(cb)
        lib().recovery_job_set_log_callback(self._live(), cb, None)

    # -- running --

    def set_dry_run(self, dry_run: bool = True) -> None:
        """Fetch and map, write nothing."""
        lib().recovery_job_set_dry_run(self._live(), 1 if dry_run else 0)

    def add_shard(self, shard_id: str) -> None:
        """Runs only the shards added (ids as status() lists them), e.g. one per
        task of a task queue. With a checkpoint store that leases shards
        (PostgreSQL), a shard another worker holds raises Leased (resumable: try
        again later), and a lease taken over mid-run raises LeaseLost."""
        data = shard_id.encode()
        _call(lib().recovery_job_add_shard, self._live(), data, len(data))

    def replay(self, reason: Optional[str] = None, since: Optional[datetime.datetime] = None) -> None:
        """Delivers the job's dead letters again, mapped with the job's current
        mapping, under the same checkpoints and exactly-once rules as run():
        each letter no replay has settled is taken once and marked with what
        became of it; one that fails again stays with its new reason. `reason`
        keeps only letters whose reason contains it, `since` only those
        rejected at or after it (an aware datetime). A replay cut short resumes
        where it stopped. Raises as run() does."""
        data = (reason or "").encode()
        since_us = -(2**63)
        if since is not None:
            if since.tzinfo is None:
                raise ValueError("since: give an aware datetime (with tzinfo), e.g. datetime.timezone.utc")
            since_us = int(since.timestamp() * 1_000_000)
        _call(lib().recovery_job_set_replay, self._live(), 1, data, len(data), since_us)
        try:
            self.run()
        finally:
            _call(lib().recovery_job_set_replay, self._live(), 0, None, 0, since_us)

    def status(self) -> Dict[str, Any]:
        """The plan with each shard's stored state and where the job stands:
        {"job", "summary": {"shards", "shards_done", "complete",
        "records_delivered", "dead_letters" (those no replay settled),
        "dead_letters_settled", ...}, "shards": [{"id", "start", "end", "state",
        "records_delivered", "dead_letters", "pages", "progress", "cursor",
        "last_error", "lease"?}]}, the same document as `recovery status --json`.
        Reads the checkpoint store."""
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        _call(lib().recovery_job_status_json, self._live(), ctypes.byref(out), ctypes.byref(size))
        try:
            return json.loads(ctypes.string_at(out.value, size.value))
        finally:
            lib().recovery_free(out)

    def reconcile(self, bucket_seconds: int = 3600, trust_reported_total: bool = False) -> Dict[str, Any]:
        """Per time bucket of the window, the vendor's count (through the source
        and mapping) next to the destination's (the sink's count: a built-in
        sink that can count, or set_sink(..., count=...)). Returns {"vendor",
        "destination", "short_buckets", "complete", "buckets": [{"start", "end",
        "vendor", "vendor_method", "destination", "difference", "status", ...}],
        "notes"}. Writes nothing; raises RecoveryError when the sink cannot count."""
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        _call(_native.require("recovery_job_reconcile_json"), self._live(), int(bucket_seconds) * 1000000,
              int(bool(trust_reported_total)), ctypes.byref(out), ctypes.byref(size))
        try:
            return json.loads(ctypes.string_at(out.value, size.value))
        finally:
            lib().recovery_free(out)

    def probe(self, samples: int = 6, pages: int = 5, max_requests: int = 100) -> Dict[str, Any]:
        """Checks every assumption the job makes about the vendor's API and the
        destination against the real ones, reading only (docs/probe.md): the
        same report as `recovery probe --json`, {"verdict": "ok|warn|broken",
        "exit_code", "checks": [{"id", "title", "verdict", "finding",
        "evidence", "fix"?}], "samples", "pace", "notes", ...}. A broken
        assumption is in the report; RecoveryError means the probe could not
        run (a bad option, the source unreachable)."""
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        _call(_native.require("recovery_job_probe_json"), self._live(), int(samples), int(pages),
              int(max_requests), ctypes.byref(out), ctypes.byref(size))
        try:
            return json.loads(ctypes.string_at(out.value, size.value))
        finally:
            lib().recovery_free(out)

    def run(self) -> None:
        """Runs or resumes the job. Raises RecoveryError (a subclass when the
        outcome has a name) unless every shard is done; `.resumable` says
        whether running again continues. Ctrl-C stops after the current batch
        commits, then raises KeyboardInterrupt."""
        self.start()
        try:
            while True:
                try:
                    if self.wait(timeout=0.1):
                        return
                except KeyboardInterrupt:
                    self.cancel()
                    try:
                        self.wait()
                    except RecoveryError:
                        pass
                    raise
        finally:
            self._started = False

    def start(self) -> None:
        """Runs in the background; see wait()."""
        _call(lib().recovery_job_start, self._live())
        self._started = True

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits for a started run: True when it finished (raising RecoveryError
        if it failed), False when `timeout` seconds passed first."""
        err = ctypes.c_void_p()
        us = -1 if timeout is None else int(timeout * 1e6)
        code = lib().recovery_job_wait_for(self._live(), us, ctypes.byref(err))
        message = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
        lib().recovery_free(err)
        if code == DEADLINE_EXCEEDED and timeout is not None and message.endswith("still running"):
            return False
        self._started = False
        if code != OK:
            raise _error(code, message)
        return True

    def cancel(self) -> None:
        """Stops after the batch being delivered commits. Safe from any thread."""
        if self._handle:
            lib().recovery_job_cancel(self._handle)

    def stats(self) -> Progress:
        """The latest progress."""
        p = _native.Progress()
        lib().recovery_job_stats(self._live(), ctypes.byref(p))
        return Progress(*(getattr(p, f) for f in _native.PROGRESS_V1_FIELDS), self._already_present())

    def _already_present(self) -> int:
        ext = _native.ProgressExt(ctypes.sizeof(_native.ProgressExt), 0, 0)
        lib().recovery_job_stats_ext(self._live(), ctypes.byref(ext))
        return ext.records_already_present

    def close(self) -> None:
        """Cancels a run still going, waits for it, and frees the job."""
        if self._handle:
            if self._started:
                self.cancel()
                try:
                    self.wait()
                except RecoveryError:
                    pass
            lib().recovery_job_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> "Job":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

