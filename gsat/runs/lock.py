r"""One process per run folder: :class:`RunLock`."""
from __future__ import annotations

import contextlib
import errno as errno_codes
import fcntl
import os
from pathlib import Path
from typing import Any, Optional, Union

from gsat.errors import RunFolderLostError, RunInUseError
from gsat.io.files import disk_error
from gsat.runs.layout import RunFolder

PathLike = Union[str, Path]

__all__ = ["RunLock"]


class RunLock:
    r"""An exclusive, non-blocking lock on a run folder (:obj:`fcntl.flock` on
    ``<folder>/.lock``, which holds the owner's PID), so two processes never write one run.
    The operating system releases it when the owner exits, also when it is killed, so a
    stale lock file never blocks a later run. Use as a context manager.

    Args:
        folder (str or pathlib.Path): the run folder (created if missing).

    Raises:
        gsat.errors.RunInUseError: on :meth:`acquire`, when another process holds the lock
            (the message names the folder and that process's PID).
    """

    def __init__(self, folder: PathLike):
        self.folder = Path(folder)
        self.path = RunFolder(folder).lock_file
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        if self._fd is not None:
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise disk_error(exc, self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno_codes.EWOULDBLOCK, errno_codes.EAGAIN, errno_codes.EACCES):
                raise RunInUseError(f"run folder {self.folder} is in use by process {owner}; "
                                    "wait for it to finish or stop it first") from None
            raise disk_error(exc, self.path) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def check(self) -> None:
        r"""Raise :class:`~gsat.errors.RunFolderLostError` if the folder this object locked
        is no longer at its path: deleted, moved or replaced (its lock file is gone or is
        another file), so a run stops instead of writing its files into a folder that lacks
        ``config.yml``, ``run.json`` and ``dataset.json``. Nothing happens when the lock is
        not held."""
        if self._fd is None:
            return
        held = os.fstat(self._fd)
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise RunFolderLostError(
                f"the run folder {self.folder} was deleted, moved or replaced while the run "
                f"was writing it ({self.path.name} is gone); the run stopped and wrote "
                "nothing more. Start it again", folder=str(self.folder))

    @property
    def locked(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


