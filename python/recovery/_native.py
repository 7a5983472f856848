"""Where librecovery_c is, and the C ABI (include/recovery/c.h) as ctypes
declarations. Internal: the rest of the package goes through `lib()`."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
import threading
from typing import List, Optional

_PACKAGE = pathlib.Path(__file__).resolve().parent
_LIBRARY_NAME = "librecovery_c.so"


def candidates() -> List[str]:
    """The places looked at, in order: $RECOVERY_C_LIBRARY; a library bundled
    in the package (a wheel built with one); the library `cmake --install`
    put beside this package; a build tree when running from the repository;
    the system's library path."""
    found: List[str] = []
    explicit = os.environ.get("RECOVERY_C_LIBRARY")
    if explicit:
        found.append(explicit)
    found.append(str(_PACKAGE / _LIBRARY_NAME))
    try:
        from . import _installed  # written by cmake --install

        found.append(os.path.join(_installed.LIBDIR, _LIBRARY_NAME))
    except ImportError:
        pass
    root = _PACKAGE.parents[1]
    if (root / "include" / "recovery" / "c.h").exists():  # the repository
        found.append(str(root / "build" / _LIBRARY_NAME))
        found.extend(str(p) for p in sorted((root / "build").glob(f"*/{_LIBRARY_NAME}")))
    system = ctypes.util.find_library("recovery_c")
    if system:
        found.append(system)
    return found


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_explicit: Optional[str] = None


def use_library(path: str) -> None:
    """Loads the library from `path` instead of searching (before first use)."""
    global _explicit
    with _lock:
        if _lib is not None:
            raise RuntimeError("librecovery_c is already loaded; call use_library() before any other call")
        _explicit = path


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib
    with _lock:
        if _lib is None:
            paths = [_explicit] if _explicit else candidates()
            errors = []
            for path in paths:
                if not path or (os.path.sep in path and not os.path.exists(path)):
                    continue
                try:
                    _lib = _declare(ctypes.CDLL(path))
                    break
                except OSError as e:
                    errors.append(f"{path}: {e}")
            if _lib is None:
                raise OSError(
                    f"{_LIBRARY_NAME} not found (looked at: {', '.join(p for p in paths if p) or 'nothing'}"
                    f"{'; ' + '; '.join(errors) if errors else ''}): set RECOVERY_C_LIBRARY, call "
                    "recovery.use_library(path), or install the library (cmake --install)")
        return _lib


def loaded_from() -> str:
    """The path of the loaded library."""
    return lib()._name  # type: ignore[attr-defined]


# ---- structures ----------------------------------------------------------

class Record(ctypes.Structure):
    _fields_ = [("key", ctypes.POINTER(ctypes.c_char)), ("key_len", ctypes.c_size_t),
                ("event_time_us", ctypes.c_int64), ("data", ctypes.POINTER(ctypes.c_char)),
                ("data_len", ctypes.c_size_t), ("maybe_redelivered", ctypes.c_uint8)]


PROGRESS_V1_FIELDS = (
    "records_fetched records_delivered records_dropped records_out_of_window dead_letters pages bytes retries "
    "records_this_run shards_total shards_done shards_failed shards_running window_fraction records_per_second "
    "elapsed_us eta_us").split()


class Progress(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in PROGRESS_V1_FIELDS[:9]] + \
               [(name, ctypes.c_int32) for name in PROGRESS_V1_FIELDS[9:13]] + \
               [("window_fraction", ctypes.c_double), ("records_per_second", ctypes.c_double),
                ("elapsed_us", ctypes.c_int64), ("eta_us", ctypes.c_int64)]


class ProgressExt(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("records_already_present", ctypes.c_uint64)]


class DeadLetter(ctypes.Structure):
    _fields_ = [("job", ctypes.c_char_p), ("shard_id", ctypes.c_char_p),
                ("cursor", ctypes.POINTER(ctypes.c_char)), ("cursor_len", ctypes.c_size_t),
                ("index", ctypes.c_uint64),
                ("reason", ctypes.POINTER(ctypes.c_char)), ("reason_len", ctypes.c_size_t),
                ("raw", ctypes.POINTER(ctypes.c_char)), ("raw_len", ctypes.c_size_t),
                ("source_id", ctypes.POINTER(ctypes.c_char)), ("source_id_len", ctypes.c_size_t),
                ("time_us", ctypes.c_int64)]


_c_int, _c_void_p, _c_size_t, _c_char_p = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
_bytes_ptr = ctypes.POINTER(ctypes.c_char)

DESTROY = ctypes.CFUNCTYPE(None, _c_void_p)
SINK_WRITE = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, ctypes.POINTER(Record), _c_size_t, _c_void_p)
SINK_WRITE_V2 = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, ctypes.POINTER(Record), _c_size_t, _c_void_p,
                                 _c_void_p)
SINK_PRESENT = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, ctypes.POINTER(Record), _c_size_t, _c_void_p,
                                _c_void_p)
SINK_COUNT = ctypes.CFUNCTYPE(_c_int, _c_void_p, ctypes.c_int64, ctypes.c_int64, _c_size_t,
                              ctypes.POINTER(ctypes.c_uint64), _c_void_p)
MAP = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, _bytes_ptr, _c_size_t, _c_void_p, _c_void_p)
FETCH = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, ctypes.c_int64, ctypes.c_int64, _bytes_ptr, _c_size_t,
                         _c_void_p, _c_void_p)
COMMIT = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, _bytes_ptr, _c_size_t, _bytes_ptr, _c_size_t,
                          ctypes.POINTER(ctypes.c_uint8), _c_size_t, _c_void_p)
STORE_LOAD = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, _c_char_p, _c_void_p, _c_void_p)
STORE_SAVE = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, _c_char_p, _bytes_ptr, _c_size_t, _c_void_p)
STORE_REMOVE = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_char_p, _c_char_p, _c_void_p)
DEAD_ADD = ctypes.CFUNCTYPE(_c_int, _c_void_p, ctypes.POINTER(DeadLetter), _c_void_p)
DEAD_FLUSH = ctypes.CFUNCTYPE(_c_int, _c_void_p, _c_void_p)
LOG = ctypes.CFUNCTYPE(None, _c_void_p, _c_int, _bytes_ptr, _c_size_t, _bytes_ptr, _c_size_t)
PROGRESS = ctypes.CFUNCTYPE(None, _c_void_p, ctypes.POINTER(Progress))


class SinkVTableV2(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", _c_void_p), ("write", SINK_WRITE),
                ("destroy", DESTROY), ("write_v2", SINK_WRITE_V2), ("present", SINK_PRESENT)]


class SinkVTableV3(ctypes.Structure):
    _fields_ = SinkVTableV2._fields_ + [("count", SINK_COUNT)]


class MapperVTable(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", _c_void_p), ("map", MAP), ("destroy", DESTROY)]


class SourceVTableV2(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", _c_void_p), ("fetch", FETCH), ("destroy", DESTROY),
                ("commit", COMMIT)]


class StoreVTable(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", _c_void_p), ("load", STORE_LOAD),
                ("save", STORE_SAVE), ("remove", STORE_REMOVE), ("destroy", DESTROY)]


class DeadLetterVTable(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("user_data", _c_void_p), ("add", DEAD_ADD), ("flush", DEAD_FLUSH),
                ("destroy", DESTROY)]


def _declare(cdll: ctypes.CDLL) -> ctypes.CDLL:
    errptr = ctypes.POINTER(_c_void_p)
    signatures = {
        "recovery_version": (_c_char_p, []),
        "recovery_version_number": (ctypes.c_uint32, []),
        "recovery_code_resumable": (ctypes.c_uint8, [_c_int]),
        "recovery_status_name": (_c_char_p, [_c_int]),
        "recovery_free": (None, [_c_void_p]),
        "recovery_error_set": (None, [_c_void_p, _c_char_p, _c_size_t]),
        "recovery_map_output_set": (None, [_c_void_p, _c_char_p, _c_size_t, ctypes.c_int64, _c_char_p, _c_size_t]),
        "recovery_page_add_v2": (None, [_c_void_p, _c_char_p, _c_size_t, _c_char_p, _c_size_t, ctypes.c_uint8]),
        "recovery_page_set_next_cursor": (None, [_c_void_p, _c_char_p, _c_size_t]),
        "recovery_page_set_exhausted": (None, [_c_void_p, ctypes.c_uint8]),
        "recovery_page_set_total": (None, [_c_void_p, ctypes.c_int64]),
        "recovery_page_set_progress": (None, [_c_void_p, ctypes.c_double]),
        "recovery_bytes_set": (None, [_c_void_p, _c_char_p, _c_size_t]),
        "recovery_sink_result_reject": (None, [_c_void_p, _c_size_t, _c_char_p, _c_size_t]),
        "recovery_sink_result_job": (_c_char_p, [_c_void_p]),
        "recovery_sink_result_run_id": (_c_char_p, [_c_void_p]),
        "recovery_presence_add": (None, [_c_void_p, _c_char_p, _c_size_t]),
        "recovery_job_create": (_c_int, [_c_char_p, _c_size_t, _c_char_p, ctypes.POINTER(_c_void_p), errptr]),
        "recovery_job_create_from_file": (_c_int, [_c_char_p, ctypes.POINTER(_c_void_p), errptr]),
        "recovery_job_destroy": (None, [_c_void_p]),
        "recovery_job_set_sink_v2": (_c_int, [_c_void_p, ctypes.POINTER(SinkVTableV2), errptr]),
        "recovery_job_set_sink_v3": (_c_int, [_c_void_p, ctypes.POINTER(SinkVTableV3), errptr]),
        "recovery_job_reconcile_json": (_c_int, [_c_void_p, ctypes.c_int64, ctypes.c_uint8, ctypes.POINTER(_c_void_p),
                                                 ctypes.POINTER(_c_size_t), errptr]),
        "recovery_job_probe_json": (_c_int, [_c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                             ctypes.POINTER(_c_void_p), ctypes.POINTER(_c_size_t), errptr]),
        "recovery_job_set_mapper": (_c_int, [_c_void_p, ctypes.POINTER(MapperVTable), errptr]),
        "recovery_job_set_source_v2": (_c_int, [_c_void_p, ctypes.POINTER(SourceVTableV2), errptr]),
        "recovery_job_set_checkpoint_store": (_c_int, [_c_void_p, ctypes.POINTER(StoreVTable), errptr]),
        "recovery_job_set_dead_letters": (_c_int, [_c_void_p, ctypes.POINTER(DeadLetterVTable), errptr]),
        "recovery_job_set_log_callback": (_c_int, [_c_void_p, LOG, _c_void_p]),
        "recovery_job_set_progress_callback": (_c_int, [_c_void_p, PROGRESS, _c_void_p]),
        "recovery_job_set_dry_run": (_c_int, [_c_void_p, ctypes.c_uint8]),
        "recovery_job_add_shard": (_c_int, [_c_void_p, _c_char_p, _c_size_t, errptr]),
        "recovery_job_set_replay": (_c_int, [_c_void_p, ctypes.c_uint8, _c_char_p, _c_size_t, ctypes.c_int64, errptr]),
        "recovery_job_status_json": (_c_int, [_c_void_p, ctypes.POINTER(_c_void_p), ctypes.POINTER(_c_size_t),
                                              errptr]),
        "recovery_job_run": (_c_int, [_c_void_p, errptr]),
        "recovery_job_start": (_c_int, [_c_void_p, errptr]),
        "recovery_job_wait": (_c_int, [_c_void_p, errptr]),
        "recovery_job_wait_for": (_c_int, [_c_void_p, ctypes.c_int64, errptr]),
        "recovery_job_cancel": (_c_int, [_c_void_p]),
        "recovery_job_stats": (_c_int, [_c_void_p, ctypes.POINTER(Progress)]),
        "recovery_job_stats_ext": (_c_int, [_c_void_p, ctypes.POINTER(ProgressExt)]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:  # an older library: the calls that need it say so
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return cdll


def require(name: str):
    """The library's function `name`, or an error naming the library that lacks it."""
    fn = getattr(lib(), name, None)
    if fn is None:
        raise OSError(f"{loaded_from()} has no {name}: it is older than this package; install a newer library")
    return fn
