r"""Checks of plain values that need no PyTorch: paths and names. The command line's flag
types use them, so that parsing the arguments does not load PyTorch Geometric;
:mod:`gsat.core.validation` re-exports them with the checks of graphs, seeds and devices."""
from __future__ import annotations

import os
from typing import Any, Sequence

from gsat.errors import ConfigError, UnknownNameError

__all__ = ["check_path", "check_choice"]


def check_path(value: Any, what: str = "path") -> str:
    r"""Return :obj:`value` as a string if it can name a file or folder: a non-empty string
    (or :class:`os.PathLike`) that is not only blanks and holds no NUL byte; raise
    :class:`~gsat.errors.ConfigError` naming :obj:`what` otherwise. An empty ``--out`` or
    ``--data-dir`` would otherwise mean the current folder."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{what} must name a file or folder, got {value!r}; use '.' for "
                          "the current folder")
    if "\0" in text:
        raise ConfigError(f"{what} must not contain a NUL byte, got {value!r}")
    return text


def check_choice(value: Any, choices: Sequence[str], kind: str) -> str:
    r"""Return :obj:`value` if it is one of :obj:`choices`; raise
    :class:`~gsat.errors.UnknownNameError` (listing them) otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise UnknownNameError(kind, value, choices)
    return value
