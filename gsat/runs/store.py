r"""Reuse of finished work: every piece a later run may pick up (a training state to resume,
a trained model, a tuning's finished trials, a fitted explainer) is saved with the **stamp**
of what it was made from, and is taken back only under the same stamp.

A stamp is a JSON-like mapping (e.g. the config, the dataset, the method, the seed, a digest
of the graphs). :func:`stamp_differences` is the one comparison: keys are compared
recursively, and a key that an older stamp lacks counts as its value in :obj:`defaults`
(a setting added later, whose default keeps the old behaviour, does not make older pieces
unusable). :func:`save_piece` / :func:`load_piece` keep a value beside its stamp, as JSON
(``.json``) or as a checkpoint (``.pt``, read only with the safe loader).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, List, Mapping, Optional, Union

from gsat.errors import CheckpointError
from gsat.io.files import json_safe, write_json

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

__all__ = ["stamp_id", "stamp_differences", "save_piece", "load_piece", "discard_piece"]

_ABSENT = "<absent>"


def stamp_id(stamp: Any) -> str:
    """A string equal for equal stamps, whether they come from Python objects or from JSON
    (NaN and infinities as :obj:`null`, keys sorted)."""
    return json.dumps(json_safe(stamp), sort_keys=True, default=str)


def stamp_differences(saved: Any, current: Any, defaults: Optional[Mapping[str, Any]] = None,
                      prefix: str = "", saved_name: str = "saved") -> List[str]:
    r"""The keys (dotted) whose values differ between a saved stamp and the current one, each
    as ``"key (saved A, now B)"``; empty when the piece may be reused.

    Args:
        saved: the stamp the piece was saved with.
        current: the stamp of what the run would make now.
        defaults (mapping, optional): values of keys that :obj:`saved` may lack (nested as
            the stamps are). (default: :obj:`None`)
        prefix (str, optional): prepended to every key named. (default: :obj:`""`)
        saved_name (str, optional): what the messages call the saved side, e.g.
            :obj:`"checkpoint"`. (default: :obj:`"saved"`)
    """
    if not (isinstance(saved, Mapping) and isinstance(current, Mapping)):
        same = stamp_id(saved) == stamp_id(current)
        return [] if same else [f"{prefix.rstrip('.') or 'stamp'} ({saved_name} {saved!r}, "
                                f"now {current!r})"]
    defaults = defaults if isinstance(defaults, Mapping) else {}
    out: List[str] = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}{key}"
        a = saved.get(key, defaults.get(key, _ABSENT))
        b = current.get(key, _ABSENT)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += stamp_differences(a, b, defaults.get(key), name + ".", saved_name)
        elif stamp_id(a) != stamp_id(b):
            out.append(f"{name} ({saved_name} {a!r}, now {b!r})")
    return out


def save_piece(path: PathLike, stamp: Mapping[str, Any], value: Any) -> None:
    r"""Save :obj:`value` with :obj:`stamp` atomically: as JSON when :obj:`path` ends in
    ``.json``, else as a checkpoint (tensors, dicts, lists, numbers and strings only)."""
    path = Path(path)
    if path.suffix == ".json":
        write_json({"stamp": stamp, "value": value}, path)
    else:
        from gsat.io.checkpoint import save_checkpoint

        save_checkpoint({"stamp": stamp_id(stamp), "value": value}, path)


def load_piece(path: PathLike, stamp: Mapping[str, Any],
               defaults: Optional[Mapping[str, Any]] = None,
               map_location: Any = "cpu") -> Optional[Any]:
    r"""The value saved in :obj:`path` by :func:`save_piece` under the same :obj:`stamp`
    (:func:`stamp_differences` with :obj:`defaults`), or :obj:`None` when there is none, it
    is unreadable (logged) or it was made from something else (logged)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        if path.suffix == ".json":
            saved = json.loads(path.read_text())
            differs = stamp_differences(saved["stamp"], json_safe(stamp), defaults)
        else:
            from gsat.io.checkpoint import load_checkpoint

            saved = load_checkpoint(path, map_location=map_location)
            differs = [] if saved["stamp"] == stamp_id(stamp) else ["stamp"]
        value = saved["value"]
    except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
        log.warning("%s is unreadable (%s); it is made again", path,
                    " ".join(str(exc).split())[:160])
        return None
    if differs:
        log.info("%s was made from something else (%s); it is made again", path,
                 "; ".join(differs[:3]))
        return None
    return value


def discard_piece(path: PathLike) -> None:
    """Remove a piece that is no longer needed (nothing if absent)."""
    Path(path).unlink(missing_ok=True)
