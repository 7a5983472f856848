"""Python bindings for recovery's C ABI (include/recovery/c.h), with ctypes.

    import recovery

    def handle(shard_id, records):           # where live records would arrive
        for r in records:
            integration.handle(json.loads(r.data), key=r.key, check_duplicate=r.maybe_redelivered)

    with recovery.Job.from_file("job.json") as job:
        job.set_sink(handle)
        job.on_progress(lambda p: print(f"{p.window_fraction:.0%}"))
        job.run()        # resumes from checkpoints; Ctrl-C stops after the current batch

The library is found through $RECOVERY_C_LIBRARY, then the build tree, then
the system's library path. Standard library only.
"""
import ctypes
import ctypes.util
import json
import os
import pathlib
from collections import namedtuple

__all__ = ["Job", "Record", "Progress", "RecoveryError", "Retry", "version", "status_name",
           "ABORTED", "LEASED"]

OK, CANCELLED, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, INTERNAL, UNAVAILABLE = 0, 1, 3, 4, 5, 13, 14
ABORTED, PAUSED, INCOMPLETE, LEASED = 10, 100, 101, 102
MAP_EMIT, MAP_DROP, MAP_REJECT = 0, 1, 2


class RecoveryError(Exception):
    """A failed call: `code`, `status_name` (e.g. "INVALID_ARGUMENT") and `message`."""

    def __init__(self, code, message):
        self.code = code
        self.status_name = status_name(code)
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    @property
    def resumable(self):
        """True when running the job again continues where it stopped (the library decides)."""
        return bool(_lib.recovery_code_resumable(self.code))


class Retry(Exception):
    """Raise from a sink to have the batch retried (a transient failure)."""


Record = namedtuple("Record", "key event_time_us data maybe_redelivered")
Progress = namedtuple(
    "Progress",
    "records_fetched records_delivered records_dropped records_out_of_window dead_letters pages bytes retries "
    "records_this_run shards_total shards_done shards_failed shards_running window_fraction records_per_second "
    "elapsed_us eta_us records_already_present",
)
_V1_PROGRESS_FIELDS = Progress._fields[:17]


class _Record(ctypes.Structure):
    _fields_ = [("key", ctypes.POINTER(ctypes.c_char)), ("key_len", ctypes.c_size_t),
                ("event_time_us", ctypes.c_int64), ("data", ctypes.POINTER(ctypes.c_char)),
                ("data_len", ctypes.c_size_t), ("maybe_redelivered", ctypes.c_uint8)]


class _Progress(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in Progress._fields[:9]] + \
               [(name, ctypes.c_int32) for name in Progress._fields[9:13]] + \
               [("window_fraction", ctypes.c_double), ("records_per_second", ctypes.c_double),
                ("elapsed_us", ctypes.c_int64), ("eta_us", ctypes.c_int64)]


class _ProgressExt(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("records_already_present", ctypes.c_uint64)]


_DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_SINK_WRITE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_Record),
                               ctypes.c_size_t, ctypes.c_void_p)
_MAP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char),
                        ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)
_LOG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t,
                        ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)
_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Progress))


class _SinkVTable(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", ctypes.c_void_p), ("write", _SINK_WRITE),
                ("destroy", _DESTROY)]


_SINK_WRITE_V2 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_Record),
                                  ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)
_SINK_PRESENT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_Record),
                                 ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)


class _SinkVTableV2(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", ctypes.c_void_p), ("write", _SINK_WRITE),
                ("destroy", _DESTROY), ("write_v2", _SINK_WRITE_V2), ("present", _SINK_PRESENT)]


class _MapperVTable(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", ctypes.c_void_p), ("map", _MAP), ("destroy", _DESTROY)]


def _find_library():
    explicit = os.environ.get("RECOVERY_C_LIBRARY")
    if explicit:
        return explicit
    root = pathlib.Path(__file__).resolve().parents[2]
    candidates = [root / "build" / "librecovery_c.so"] + sorted((root / "build").glob("*/librecovery_c.so"))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = ctypes.util.find_library("recovery_c")
    if found:
        return found
    raise OSError("librecovery_c.so not found: set RECOVERY_C_LIBRARY, build the project, or install it")


def _load():
    lib = ctypes.CDLL(_find_library())
    c_int, c_char_p, c_void_p, c_size_t = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
    errptr = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "recovery_version": (c_char_p, []),
        "recovery_version_number": (ctypes.c_uint32, []),
        "recovery_code_resumable": (ctypes.c_uint8, [c_int]),
        "recovery_status_name": (c_char_p, [c_int]),
        "recovery_free": (None, [c_void_p]),
        "recovery_error_set": (None, [c_void_p, c_char_p, c_size_t]),
        "recovery_map_output_set": (None, [c_void_p, c_char_p, c_size_t, ctypes.c_int64, c_char_p, c_size_t]),
        "recovery_job_create": (c_int, [c_char_p, c_size_t, c_char_p, ctypes.POINTER(c_void_p), errptr]),
        "recovery_job_create_from_file": (c_int, [c_char_p, ctypes.POINTER(c_void_p), errptr]),
        "recovery_job_destroy": (None, [c_void_p]),
        "recovery_job_set_sink": (c_int, [c_void_p, ctypes.POINTER(_SinkVTable), errptr]),
        "recovery_job_set_sink_v2": (c_int, [c_void_p, ctypes.POINTER(_SinkVTableV2), errptr]),
        "recovery_sink_result_reject": (None, [c_void_p, c_size_t, c_char_p, c_size_t]),
        "recovery_presence_add": (None, [c_void_p, c_char_p, c_size_t]),
        "recovery_job_stats_ext": (c_int, [c_void_p, ctypes.POINTER(_ProgressExt)]),
        "recovery_job_set_mapper": (c_int, [c_void_p, ctypes.POINTER(_MapperVTable), errptr]),
        "recovery_job_set_log_callback": (c_int, [c_void_p, _LOG, c_void_p]),
        "recovery_job_set_progress_callback": (c_int, [c_void_p, _PROGRESS, c_void_p]),
        "recovery_job_set_dry_run": (c_int, [c_void_p, ctypes.c_uint8]),
        "recovery_job_add_shard": (c_int, [c_void_p, c_char_p, c_size_t, errptr]),
        "recovery_job_status_json": (c_int, [c_void_p, ctypes.POINTER(c_void_p), ctypes.POINTER(c_size_t), errptr]),
        "recovery_job_run": (c_int, [c_void_p, errptr]),
        "recovery_job_start": (c_int, [c_void_p, errptr]),
        "recovery_job_wait": (c_int, [c_void_p, errptr]),
        "recovery_job_wait_for": (c_int, [c_void_p, ctypes.c_int64, errptr]),
        "recovery_job_cancel": (c_int, [c_void_p]),
        "recovery_job_stats": (c_int, [c_void_p, ctypes.POINTER(_Progress)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lib = _load()


def version():
    return _lib.recovery_version().decode()


def status_name(code):
    return _lib.recovery_status_name(code).decode()


def _call(fn, *args):
    """Calls a fallible function, raising RecoveryError with its message."""
    err = ctypes.c_void_p()
    code = fn(*args, ctypes.byref(err))
    if code != OK:
        message = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
        _lib.recovery_free(err)
        raise RecoveryError(code, message)


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
    return text, len(text)


class Job:
    """A recovery job (one JSON job spec). Not thread-safe, except cancel()."""

    def __init__(self, spec, base_dir=None):
        """`spec`: the job spec as a JSON string or a dict."""
        text = (json.dumps(spec) if isinstance(spec, dict) else spec).encode()
        handle = ctypes.c_void_p()
        _call(_lib.recovery_job_create, text, len(text), base_dir.encode() if base_dir else None,
              ctypes.byref(handle))
        self._init(handle)

    @classmethod
    def from_file(cls, path):
        job = cls.__new__(cls)
        handle = ctypes.c_void_p()
        _call(_lib.recovery_job_create_from_file, os.fsencode(path), ctypes.byref(handle))
        job._init(handle)
        return job

    def _init(self, handle):
        self._handle = handle
        self._keep = []  # ctypes callbacks must outlive the job
        self._started = False

    def _live(self):
        if not self._handle:
            raise RecoveryError(INVALID_ARGUMENT, "the job is closed")
        return self._handle

    def set_sink(self, fn, present=None):
        """`fn(shard_id, records)` receives each batch (a list of Record); returning
        acknowledges it. It may return {index: reason} for records the destination
        will never accept: they go to dead letters and the rest counts as
        delivered. Raising fails the batch with the exception's text (raise Retry
        to have it retried).

        `present(shard_id, records)`, when given, answers the job's
        "skip_already_present": it returns the keys (str) among `records` that the
        destination already holds; those are not delivered again. Raising Retry
        asks again later; any other exception stops the shard."""

        def batch_of(records, count):
            return [Record(ctypes.string_at(r.key, r.key_len).decode("utf-8", "surrogateescape"),
                           r.event_time_us, ctypes.string_at(r.data, r.data_len), bool(r.maybe_redelivered))
                    for r in records[:count]]

        def failed(error, exc):
            _lib.recovery_error_set(error, *_describe(exc))
            return UNAVAILABLE if isinstance(exc, Retry) else INTERNAL

        def write(_, shard_id, records, count, result, error):
            try:
                rejected = fn(shard_id.decode(), batch_of(records, count))
                for index, reason in (rejected.items() if isinstance(rejected, dict) else ()):
                    text = str(reason).encode("utf-8", "replace")
                    _lib.recovery_sink_result_reject(result, int(index), text, len(text))
                return OK
            except BaseException as exc:  # never let an exception unwind into C
                return failed(error, exc)

        def check(_, shard_id, records, count, presence, error):
            try:
                for key in present(shard_id.decode(), batch_of(records, count)) or ():
                    raw = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else bytes(key)
                    _lib.recovery_presence_add(presence, raw, len(raw))
                return OK
            except BaseException as exc:
                return failed(error, exc)

        self._install(_lib.recovery_job_set_sink_v2,
                      _SinkVTableV2(2, None, _SINK_WRITE(0), _DESTROY(0), _SINK_WRITE_V2(write),
                                    _SINK_PRESENT(check) if present else _SINK_PRESENT(0)))

    def set_mapper(self, fn):
        """`fn(shard_id, raw_bytes)` returns None to drop the record, or
        (key, event_time_us or None, data as str/bytes/dict). Raising sends the
        record to dead letters with the exception's text. Called from several
        threads at once."""

        def map_(_, shard_id, raw, raw_len, out, error):
            try:
                result = fn(shard_id.decode(), ctypes.string_at(raw, raw_len))
                if result is None:
                    return MAP_DROP
                key, event_time_us, data = result
                key = key.encode() if isinstance(key, str) else bytes(key)
                if isinstance(data, dict):
                    data = json.dumps(data, separators=(",", ":"))
                data = data.encode() if isinstance(data, str) else bytes(data)
                t = -(2 ** 63) if event_time_us is None else int(event_time_us)
                _lib.recovery_map_output_set(out, key, len(key), t, data, len(data))
                return MAP_EMIT
            except BaseException as exc:
                _lib.recovery_error_set(error, *_describe(exc))
                return MAP_REJECT

        self._install(_lib.recovery_job_set_mapper, _MapperVTable(1, None, _MAP(map_), _DESTROY(0)))

    def _install(self, setter, vtable):
        self._keep.append(vtable)
        _call(setter, self._live(), ctypes.byref(vtable))

    def on_progress(self, fn):
        """`fn(Progress)` after every committed page (from worker threads, serialized)."""

        def call(_, p):
            try:
                fn(Progress(*(getattr(p.contents, f) for f in _V1_PROGRESS_FIELDS), self._already_present()))
            except BaseException:
                pass  # a progress display must not stop a recovery

        cb = _PROGRESS(call)
        self._keep.append(cb)
        _lib.recovery_job_set_progress_callback(self._live(), cb, None)

    def on_log(self, fn):
        """`fn(level, message, fields)`: level 0-3 (debug..error), fields a dict."""

        def call(_, level, message, message_len, fields, fields_len):
            try:
                fn(level, ctypes.string_at(message, message_len).decode("utf-8", "replace"),
                   json.loads(ctypes.string_at(fields, fields_len) or b"{}"))
            except BaseException:
                pass

        cb = _LOG(call)
        self._keep.append(cb)
        _lib.recovery_job_set_log_callback(self._live(), cb, None)

    def set_dry_run(self, dry_run=True):
        _lib.recovery_job_set_dry_run(self._live(), 1 if dry_run else 0)

    def add_shard(self, shard_id):
        """Runs only the shards added (ids as status() lists them), e.g. one per
        task of a task queue. With a checkpoint store that leases shards
        (PostgreSQL), a shard another worker holds raises RecoveryError with
        code LEASED (resumable: try again later), and a lease taken over
        mid-run raises it with code ABORTED."""
        data = shard_id.encode()
        _call(_lib.recovery_job_add_shard, self._live(), data, len(data))

    def status(self):
        """The plan with each shard's stored state: a dict {"job", "shards": [{"id",
        "start", "end", "state", "records_delivered", "dead_letters", "pages",
        "progress", "cursor", "last_error", "lease"?}]}. Reads the checkpoint store."""
        out, size = ctypes.c_void_p(), ctypes.c_size_t()
        _call(_lib.recovery_job_status_json, self._live(), ctypes.byref(out), ctypes.byref(size))
        try:
            return json.loads(ctypes.string_at(out.value, size.value))
        finally:
            _lib.recovery_free(out)

    def run(self):
        """Runs or resumes the job. Raises RecoveryError unless every shard is done
        (`.resumable` says whether running again continues). Ctrl-C stops after
        the current batch commits, then raises KeyboardInterrupt."""
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

    def start(self):
        """Runs in the background; see wait()."""
        _call(_lib.recovery_job_start, self._live())
        self._started = True

    def wait(self, timeout=None):
        """Waits for a started run: True when it finished (raising RecoveryError if it
        failed), False when `timeout` seconds passed first."""
        err = ctypes.c_void_p()
        us = -1 if timeout is None else int(timeout * 1e6)
        code = _lib.recovery_job_wait_for(self._live(), us, ctypes.byref(err))
        message = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
        _lib.recovery_free(err)
        if code == DEADLINE_EXCEEDED and timeout is not None and message.endswith("still running"):
            return False
        self._started = False
        if code != OK:
            raise RecoveryError(code, message)
        return True

    def cancel(self):
        """Stops after the batch being delivered commits. Safe from any thread."""
        if self._handle:
            _lib.recovery_job_cancel(self._handle)

    def stats(self):
        p = _Progress()
        _lib.recovery_job_stats(self._live(), ctypes.byref(p))
        return Progress(*(getattr(p, f) for f in _V1_PROGRESS_FIELDS), self._already_present())

    def _already_present(self):
        ext = _ProgressExt(ctypes.sizeof(_ProgressExt), 0, 0)
        _lib.recovery_job_stats_ext(self._live(), ctypes.byref(ext))
        return ext.records_already_present

    def close(self):
        """Cancels a run still going, waits for it, and frees the job."""
        if self._handle:
            if self._started:
                self.cancel()
                try:
                    self.wait()
                except RecoveryError:
                    pass
            _lib.recovery_job_destroy(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
