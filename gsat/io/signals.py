r"""Signals that stop a run cleanly: :func:`sigterm_as_interrupt` makes SIGTERM (what
schedulers send) take the path of Ctrl-C, and :func:`deferred_interrupt` holds both back
while a file is being written."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator, List

from gsat.errors import Terminated

__all__ = ["deferred_interrupt", "sigterm_as_interrupt"]


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    r"""Within the block, Ctrl-C (SIGINT) is held back and raised as :class:`KeyboardInterrupt`
    when the block ends, so that a write in progress is completed first; so is SIGTERM while
    :func:`sigterm_as_interrupt` is active (raised as :class:`~gsat.errors.Terminated`). Outside
    the main thread (where signal handlers cannot be set), or when SIGINT's handler was not
    installed from Python, the block runs unprotected."""
    if not _main_thread() or signal.getsignal(signal.SIGINT) is None:  # no Python-level handler
        yield
        return
    signums = [signal.SIGINT]
    if getattr(signal.getsignal(signal.SIGTERM), "_gsat_sigterm", False):
        signums.append(signal.SIGTERM)
    received: List[int] = []
    previous = {n: signal.signal(n, lambda signum, frame: received.append(signum))
                for n in signums}
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(n, handler)
    if signal.SIGTERM in received:
        raise Terminated("terminated by SIGTERM")
    if received and previous[signal.SIGINT] != signal.SIG_IGN:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    r"""Within the block, SIGTERM (what schedulers such as Slurm send before killing a job)
    raises :class:`~gsat.errors.Terminated`, a :class:`KeyboardInterrupt`: it takes exactly
    the path of Ctrl-C (writes in :func:`deferred_interrupt` blocks finish first, complete
    epochs are kept). The previous handler is restored on exit. Outside the main thread the
    block runs unchanged."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated by SIGTERM")

    handler._gsat_sigterm = True  # type: ignore[attr-defined]
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
