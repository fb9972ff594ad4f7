r"""Checkpoints: written atomically, read only with :obj:`torch.load(..., weights_only=True)`.

Everything stored in a checkpoint is made of tensors, dicts, lists, tuples, numbers, strings
and :obj:`None`, so PyTorch's restricted unpickler can read it and no code stored in a file
ever runs on loading. A file that would need arbitrary unpickling is refused with
:class:`~gsat.errors.CheckpointError`, as is a checkpoint whose weights do not fit the model
(the message names the missing, unexpected and shape-mismatched keys).
"""
from __future__ import annotations

import contextlib
import logging
import os
import pickle
import random
import re
import signal
import threading
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

import numpy as np
import torch
from torch import nn

from gsat.errors import CheckpointError

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    r"""Within the block, Ctrl-C (SIGINT) is held back and raised as :class:`KeyboardInterrupt`
    when the block ends, so that a write in progress is completed first. Outside the main
    thread (where signal handlers cannot be set), or when SIGINT's handler was not installed
    from Python, the block runs unprotected."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):  # no Python-level handler to swap
        yield
        return
    received: List[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> None:
    r"""Write :obj:`obj` to :obj:`path` atomically: into a temporary file in the same folder,
    flushed to disk, then renamed over :obj:`path`. A reader (or a run killed at any moment)
    sees either the old or the new file, never a partial one. Ctrl-C is held back until the
    file is in place (:func:`deferred_interrupt`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with deferred_interrupt():
        try:
            with open(tmp, "wb") as f:
                torch.save(obj, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()


def remove_stale_temporaries(folder: PathLike) -> List[Path]:
    """Delete temporary files :func:`save_checkpoint` left behind in :obj:`folder` when a
    process was killed while writing; returns the removed paths."""
    removed = []
    for p in Path(folder).glob("*.pt.tmp*"):
        p.unlink()
        removed.append(p)
    if removed:
        log.info("removed %d unfinished checkpoint file(s) in %s", len(removed), folder)
    return removed


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device, None] = "cpu"
                    ) -> Dict[str, Any]:
    r"""Read a checkpoint with :obj:`torch.load(path, weights_only=True)`.

    Raises:
        gsat.errors.CheckpointError: the file is missing, truncated or not a checkpoint, or
            it holds objects whose unpickling would run arbitrary code (such a file is
            refused, nothing in it is executed).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)|(Unsupported operand \d+)", str(exc))
        detail = (f"it refers to {found.group(1)}" if found and found.group(1)
                  else f"{found.group(2)}" if found else "unsupported content")
        raise CheckpointError(
            f"refused to load {path}: reading it needs arbitrary unpickling, which can run any "
            f"code ({detail}); gsat checkpoints hold only tensors, numbers, strings, lists and "
            "dicts. Nothing in the file was executed") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint "
                              f"({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict "
                              "as written by gsat")
    return obj


def _names(keys: List[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" ... and {len(keys) - limit} more" if len(keys) > limit else "")


def load_state_checked(module: nn.Module, state: Mapping[str, Any], source: str = "checkpoint"
                       ) -> None:
    r"""Load :obj:`state` into :obj:`module` after checking that it fits.

    Raises:
        gsat.errors.CheckpointError: naming the keys the checkpoint lacks, the keys the model
            does not have, and the keys whose shapes differ (checkpoint vs. model); typically
            the checkpoint was written for another backbone, width or config.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{source}: expected a state dict, got {type(state).__name__}")
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} (checkpoint {list(state[k].shape)}, model {list(own[k].shape)})"
              for k in own if k in state and isinstance(state[k], torch.Tensor)
              and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {_names(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_names(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {_names(shapes, 4)}")
        raise CheckpointError(f"{source} does not fit this {type(module).__name__} (written "
                              f"for another architecture or config?): {'; '.join(parts)}")
    module.load_state_dict(state)


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any],
                       prefix: str = "") -> List[str]:
    """The keys (dotted) whose values differ between two nested config dicts, with both
    values."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}{key}"
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += config_differences(a, b, name + ".")
        elif a != b:
            out.append(f"{name} (checkpoint {a!r}, now {b!r})")
    return out


def rng_state(generator: Optional[torch.Generator] = None) -> Dict[str, Any]:
    r"""The states of Python's, NumPy's and torch's global random generators (and of
    :obj:`generator`, e.g. a :class:`~torch.utils.data.DataLoader`'s shuffle generator) as
    plain lists and tensors, loadable with :obj:`weights_only=True`."""
    version, py_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        "python": {"version": version, "state": list(py_state), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached_gaussian": cached},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: Mapping[str, Any], generator: Optional[torch.Generator] = None) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


__all__ = ["CheckpointError", "config_differences", "deferred_interrupt", "load_checkpoint",
           "load_state_checked", "remove_stale_temporaries", "rng_state", "save_checkpoint",
           "set_rng_state"]
