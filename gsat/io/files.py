r"""Files that are never seen half-written: :func:`atomic_write` (temporary file in the same
folder, fsync, rename) is the one writer of the run folder's files and caches; a failed
write (disk full, read-only folder, also when PyTorch wraps the :class:`OSError` in a
:class:`RuntimeError`) raises :class:`~gsat.errors.DiskWriteError` naming the folder and the
bytes needed, and leaves no temporary behind."""
from __future__ import annotations

import contextlib
import errno as errno_codes
import json
import logging
import math
import os
import re
import shutil
from pathlib import Path
from typing import IO, Any, Callable, List, Optional, Union

from gsat.errors import DiskWriteError
from gsat.io.signals import deferred_interrupt

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

__all__ = ["atomic_write", "write_json", "read_json", "json_safe", "is_write_failure",
           "disk_error", "remove_stale_temporaries", "pid_alive"]


_WRITE_FAILED = re.compile(r"file write failed|unexpected pos|iostream error|No space left|"
                           r"Disk quota|Read-only file system", re.I)


def disk_error(exc: BaseException, path: Path, needed: Optional[int] = None) -> DiskWriteError:
    """A :class:`DiskWriteError` describing the failed write of :obj:`path`."""
    os_exc: Optional[OSError] = None
    seen: BaseException = exc
    while seen is not None and os_exc is None:  # torch wraps the OSError in a RuntimeError
        if isinstance(seen, OSError):
            os_exc = seen
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    code = os_exc.errno if os_exc is not None else None
    if code is None and re.search("No space left", str(exc), re.I):
        code = errno_codes.ENOSPC
    reason = (os_exc.strerror if os_exc is not None and os_exc.strerror
              else os.strerror(code) if code else " ".join(str(exc).split())[:200])
    folder = path.parent
    msg = f"could not write {path.name} in {folder}: {reason}"
    if code in (errno_codes.ENOSPC, errno_codes.EDQUOT):
        try:
            free: Optional[int] = shutil.disk_usage(folder).free
        except OSError:
            free = None
        if needed is not None:
            msg += f"; the file needs {needed:,} bytes"
            if free is not None:
                msg += f", {free:,} bytes are free"
        msg += "; free some space or write to another folder"
    return DiskWriteError(msg, code, str(folder), needed)


def is_write_failure(exc: BaseException) -> bool:
    """Whether :obj:`exc` is a failed file write: an :class:`OSError`, or a
    :class:`RuntimeError` from PyTorch's writer wrapping one (or reporting a failed write)."""
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, RuntimeError):
        seen = exc.__cause__ or exc.__context__
        return isinstance(seen, OSError) or bool(_WRITE_FAILED.search(str(exc))) or (
            seen is not None and is_write_failure(seen))
    return False


_TEMPORARY = re.compile(r"\.tmp(\d+)$")


def atomic_write(path: PathLike, data: Union[bytes, bytearray, memoryview, str,
                                             Callable[[IO[bytes]], None]]) -> None:
    r"""Write a file atomically: into ``<path>.tmp<PID>`` in the same folder, flushed and
    fsynced, then renamed over :obj:`path`. A reader (or a run killed at any moment) sees
    either the old or the new file, never a partial one. Ctrl-C (and SIGTERM under
    :func:`sigterm_as_interrupt`) is held back until the file is in place.

    Args:
        path (str or pathlib.Path): the target; its folder is created if missing.
        data (bytes, str or callable): the content (a :obj:`str` is written as UTF-8), or a
            function writing it into the open binary file.

    Raises:
        gsat.errors.DiskWriteError: the write failed (disk full, read-only folder ...; also
            when PyTorch wraps the :class:`OSError` in a :class:`RuntimeError`); the message
            names the folder and, for a full disk, the bytes needed and free. The temporary
            file is removed and :obj:`path` is left as it was.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    needed = None if callable(data) else memoryview(data).nbytes
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with deferred_interrupt():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:
            if not is_write_failure(exc):
                raise
            with contextlib.suppress(OSError):  # first, so the free space it held counts
                tmp.unlink(missing_ok=True)
            raise disk_error(exc, path, needed) from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: PathLike, only_dead: bool = False) -> List[Path]:
    r"""Delete temporary files :func:`atomic_write` left behind in :obj:`folder` when a
    process was killed while writing (``<name>.tmp<PID>``); returns the removed paths.

    Args:
        folder (str or pathlib.Path): the folder.
        only_dead (bool, optional): keep the temporaries of processes still running (for
            folders several processes may write at once, e.g. a data cache).
            (default: :obj:`False`)
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        found = _TEMPORARY.search(p.name)
        if not found or not p.is_file():
            continue
        pid = int(found.group(1))
        if only_dead and pid != os.getpid() and pid_alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    if removed:
        log.info("removed %d unfinished file(s) in %s", len(removed), folder)
    return removed


def json_safe(obj: Any) -> Any:
    """:obj:`obj` with NaN and infinite floats replaced by :obj:`None` (valid JSON)."""
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json(obj: Any, path: PathLike) -> None:
    """Write :obj:`obj` as JSON with :func:`atomic_write` (NaN and infinities become
    :obj:`null`, :func:`json_safe`)."""
    atomic_write(path, json.dumps(json_safe(obj), indent=2))


def read_json(path: PathLike) -> Any:
    """The content of a JSON file written by :func:`write_json`, or :obj:`None` when it is
    absent, or unreadable or cut short (logged as a warning, so that the caller makes it
    again instead of failing)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); it is made again", path,
                    " ".join(str(exc).split())[:160])
        return None
