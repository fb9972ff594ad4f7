r"""Checkpoints: written atomically, read only with :obj:`torch.load(..., weights_only=True)`.

Everything stored in a checkpoint is made of tensors, dicts, lists, tuples, numbers, strings
and :obj:`None`, so PyTorch's restricted unpickler can read it and no code stored in a file
ever runs on loading. A file that would need arbitrary unpickling is refused with
:class:`~gsat.errors.CheckpointError`, as is a checkpoint whose weights do not fit the model
(the message names the missing, unexpected and shape-mismatched keys). Every other malformed
file (empty, random bytes, truncated, damaged, a dict lacking keys) is also a
:class:`~gsat.errors.CheckpointError` whose message says "not a gsat checkpoint", "truncated" or
"missing key ...": :func:`validate_checkpoint` checks the structure of what was loaded against
:data:`CHECKPOINT_SCHEMAS`.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import random
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import torch
from torch import nn

from gsat.errors import CheckpointError
from gsat.io.files import atomic_write
from gsat.io.signals import deferred_interrupt

PathLike = Union[str, Path]


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> None:
    r"""Serialise :obj:`obj` with :func:`torch.save` and write it with :func:`atomic_write`
    (temporary file in the same folder, fsync, rename; Ctrl-C held back until the file is in
    place).

    Raises:
        gsat.errors.DiskWriteError: as :func:`atomic_write`.
    """
    with deferred_interrupt():
        buf = io.BytesIO()
        torch.save(obj, buf)
        atomic_write(path, buf.getbuffer())


def _allowed_globals() -> set:
    try:  # the allow-list of torch.load(weights_only=True)
        from torch._weights_only_unpickler import _get_allowed_globals

        return set(_get_allowed_globals())
    except Exception:  # noqa: BLE001 - a private helper; fall back to a conservative list
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"}


def foreign_globals(path: Path) -> List[str]:
    r"""Names of the Python objects (classes, functions) the pickle in :obj:`path` refers to
    that :obj:`torch.load(weights_only=True)` does not allow; read with
    :func:`pickletools.genops`, which executes nothing. Empty for damaged data."""
    try:
        raw = path.read_bytes()
        if raw.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                raw = z.read(names[0]) if names else b""
        found, strings = [], []
        for op, arg, _ in pickletools.genops(raw):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif op.name in ("EXT1", "EXT2", "EXT4", "OBJ"):
                found.append(f"<{op.name} object>")
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - damaged data: no reliable list of references
        return []
    allowed = _allowed_globals()
    return [g for g in found if g not in allowed
            and not (g.startswith("torch.") and g.endswith("Storage"))]


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except Exception:  # noqa: BLE001 - a damaged archive can make the probe itself fail
        return False


_PICKLE_PROTOCOL = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device, None] = "cpu",
                    kind: Optional[str] = None) -> Dict[str, Any]:
    r"""Read a checkpoint with :obj:`torch.load(path, weights_only=True)` and check its
    structure (:func:`validate_checkpoint`).

    Args:
        path (str or pathlib.Path): the file.
        map_location (optional): as for :func:`torch.load`. (default: :obj:`"cpu"`)
        kind (str, optional): the schema to check, a key of :data:`CHECKPOINT_SCHEMAS`;
            :obj:`None` checks a training state (a dict with :obj:`"format"`) as
            :obj:`"last"` and any other dict only for being a dict. (default: :obj:`None`)

    Raises:
        gsat.errors.CheckpointError: for every way a file can be wrong: missing, a folder,
            unreadable, empty, not a PyTorch file ("not a gsat checkpoint"), truncated or
            damaged ("truncated"), holding objects whose unpickling would run arbitrary code
            (refused, nothing in it is executed), or lacking a key / holding a wrong type
            ("missing key ...").
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a gsat checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc.strerror or exc})"
                              ) from None
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): truncated, not a gsat "
                              "checkpoint")
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTOCOL)):
        raise CheckpointError(f"{path} is not a gsat checkpoint (not a file written by "
                              f"torch.save; it starts with {head!r})")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        foreign = foreign_globals(path)
        if foreign:
            raise CheckpointError(
                f"refused to load {path}: reading it needs arbitrary unpickling, which can run "
                f"any code (it refers to {', '.join(foreign[:3])}); gsat checkpoints hold only "
                "tensors, numbers, strings, lists and dicts. Nothing in the file was executed"
            ) from None
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint: its "
                              f"content is damaged ({' '.join(str(exc).split())[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - every reader failure of a damaged file
        if head.startswith(_ZIP_MAGIC) and not _is_zip(path):
            raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint: its zip "
                                  "archive has no end record (the write was cut short?)"
                                  ) from None
        detail = " ".join(str(exc).split())[:160]
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint "
                              f"({type(exc).__name__}: {detail})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict "
                              "as written by gsat: not a gsat checkpoint")
    if kind is None and "format" in obj:
        kind = "last"
    if kind is not None:
        validate_checkpoint(obj, kind, str(path))
    return obj


_STATE = "state dict"
_NONE = type(None)

#: What each kind of file holds at its top level: ``key: type`` (a tuple lists the allowed
#: types; ``"state dict"`` is a mapping of parameter names to tensors). ``last`` is the
#: resumable training state ``last.pt``, ``best`` the selected model ``best.pt``,
#: ``pretrained`` the GSAT* backbone ``pretrained.pt``, ``graphs`` a dataset cache.
CHECKPOINT_SCHEMAS: Dict[str, Dict[str, Any]] = {
    "last": {"format": int, "model": _STATE, "optimizer": dict, "scheduler": (dict, _NONE),
             "epoch": int, "seed": int, "config": dict, "method": str, "dataset": str,
             "history": list, "train_seconds": list, "best_qual": (dict, _NONE),
             "best_any": (dict, _NONE), "rng": dict},
    "best": {"model": _STATE, "epoch": int, "config": dict, "method": str, "dataset": str},
    "pretrained": {"backbone": _STATE, "epoch": int},
    "graphs": {"num_nodes": torch.Tensor, "num_edges": torch.Tensor, "x": list,
               "edge_index": list},
}


def _type_name(tp: Any) -> str:
    if tp == _STATE:
        return "a state dict (names -> tensors)"
    tps = tp if isinstance(tp, tuple) else (tp,)
    return " or ".join("None" if t is _NONE else t.__name__ for t in tps)


def _fits(value: Any, tp: Any) -> bool:
    if tp == _STATE:
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    tps = tp if isinstance(tp, tuple) else (tp,)
    if int in tps and isinstance(value, bool):
        return False
    return isinstance(value, tps)


def _check_keys(obj: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> None:
    for key, tp in schema.items():
        if key not in obj:
            raise CheckpointError(f"{where}: not a gsat checkpoint of this kind: missing key "
                                  f"{key!r}")
        if not _fits(obj[key], tp):
            raise CheckpointError(f"{where}: key {key!r} must hold {_type_name(tp)}, got "
                                  f"{type(obj[key]).__name__}")


_RNG_SCHEMA = {"python": dict, "numpy": dict, "torch": torch.Tensor}
_RNG_PY = {"version": int, "state": list, "gauss": (float, _NONE)}
_RNG_NP = {"kind": str, "keys": torch.Tensor, "pos": int, "has_gauss": int,
           "cached_gaussian": float}


def validate_checkpoint(obj: Any, kind: str, source: str = "checkpoint") -> Dict[str, Any]:
    r"""Check that a loaded checkpoint has the structure of :obj:`kind`
    (:data:`CHECKPOINT_SCHEMAS`): every required key present with the right type, and for a
    training state (:obj:`"last"`) also a restorable random state, a non-negative epoch and
    one history record and one epoch time per complete epoch. Returns :obj:`obj`.

    Args:
        obj: what :func:`torch.load` returned.
        kind (str): :obj:`"last"`, :obj:`"best"`, :obj:`"pretrained"` or :obj:`"graphs"`.
        source (str, optional): the file, for messages. (default: :obj:`"checkpoint"`)

    Raises:
        gsat.errors.CheckpointError: naming :obj:`source` and the missing or wrong key.
        ValueError: :obj:`kind` is not a known schema (a programming error).
    """
    if kind not in CHECKPOINT_SCHEMAS:
        raise ValueError(f"unknown checkpoint kind {kind!r}; choose one of: "
                         f"{', '.join(CHECKPOINT_SCHEMAS)}")
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, expected a dict as "
                              "written by gsat: not a gsat checkpoint")
    _check_keys(obj, CHECKPOINT_SCHEMAS[kind], source)
    if kind == "last":
        epoch = obj["epoch"]
        if epoch < 0:
            raise CheckpointError(f"{source}: key 'epoch' must be >= 0, got {epoch}")
        for key in ("history", "train_seconds"):
            if len(obj[key]) != epoch + 1:
                raise CheckpointError(f"{source}: key {key!r} has {len(obj[key])} entries, "
                                      f"expected one per complete epoch ({epoch + 1}): damaged")
        if not all(isinstance(r, dict) for r in obj["history"]):
            raise CheckpointError(f"{source}: key 'history' must hold one dict per epoch")
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                   for t in obj["train_seconds"]):
            raise CheckpointError(f"{source}: key 'train_seconds' must hold numbers")
        for key in ("best_qual", "best_any"):
            if obj[key] is not None:
                _check_keys(obj[key], {"epoch": int, "state": _STATE}, f"{source}: {key}")
        opt = obj["optimizer"]
        _check_keys(opt, {"state": dict, "param_groups": list}, f"{source}: optimizer")
        rng = obj["rng"]
        _check_keys(rng, _RNG_SCHEMA, f"{source}: rng")
        _check_keys(rng["python"], _RNG_PY, f"{source}: rng.python")
        _check_keys(rng["numpy"], _RNG_NP, f"{source}: rng.numpy")
        if len(rng["python"]["state"]) != 625 or not all(
                isinstance(v, int) for v in rng["python"]["state"]):
            raise CheckpointError(f"{source}: rng.python.state must hold 625 integers")
        if rng["numpy"]["keys"].numel() != 624:
            raise CheckpointError(f"{source}: rng.numpy.keys must hold 624 numbers")
        for key in ("torch", "generator"):
            t = rng.get(key)
            if t is not None and (not isinstance(t, torch.Tensor) or t.dtype != torch.uint8):
                raise CheckpointError(f"{source}: rng.{key} must be a uint8 tensor")
    if kind == "graphs":
        n = obj["num_nodes"].numel()
        for key, value in obj.items():
            if isinstance(value, list) and len(value) != n:
                raise CheckpointError(f"{source}: key {key!r} has {len(value)} entries, "
                                      f"expected one per graph ({n}): damaged")
    return dict(obj)


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


__all__ = ["CHECKPOINT_SCHEMAS", "load_checkpoint", "load_state_checked",
           "rng_state", "save_checkpoint", "set_rng_state", "validate_checkpoint"]
