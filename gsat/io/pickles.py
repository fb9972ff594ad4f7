r"""Pickles of NumPy arrays read without running code from the file.

Several released datasets are Python pickles of plain NumPy arrays in builtin containers
(BA-2Motifs of PGExplainer, MNIST-75sp of Knyazev et al., the node features of DIG's
Graph-SST2). :func:`load_array_pickle` reads them with an unpickler that rebuilds NumPy arrays,
dtypes and scalars, and builtin lists, tuples, dicts and strings, and refuses every other
global with :class:`UnsafePickleError`, so a tampered file cannot execute anything.
"""
from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Union

import numpy as np

from gsat.errors import GSATError

__all__ = ["UnsafePickleError", "load_array_pickle", "array_globals"]


class UnsafePickleError(GSATError, pickle.UnpicklingError):
    """A pickle refers to a global other than NumPy's array reconstruction; nothing in it was
    executed."""


def array_globals() -> Dict[Tuple[str, str], Callable[..., Any]]:
    r"""The globals a pickle of plain NumPy arrays may name, :obj:`(module, name) -> object`:
    :class:`numpy.ndarray` and :class:`numpy.dtype`, the reconstruction functions of protocols
    below 5 (``_reconstruct``) and of protocol 5 (``_frombuffer``), ``scalar`` (NumPy scalars),
    under both module spellings (``numpy.core`` of NumPy 1, ``numpy._core`` of NumPy 2), and
    ``_codecs.encode``, with which protocol-2 pickles written by Python 3 store raw bytes."""
    try:  # NumPy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: Dict[Tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode}
    for pkg in ("numpy.core", "numpy._core"):  # pickles name either, whatever NumPy wrote them
        allowed[(f"{pkg}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{pkg}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{pkg}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds only what :func:`array_globals` lists (and builtin containers)."""

    def __init__(self, file: io.BufferedIOBase, source: str, hint: str):
        super().__init__(file, encoding="latin1")  # latin1: also reads Python 2 pickles
        self.source, self.hint = source, hint
        self.allowed = array_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to load the global {module}.{name}; this file may "
                f"hold only NumPy arrays (allowed: "
                f"{', '.join(sorted({m + '.' + n for m, n in self.allowed}))}). Nothing in it "
                f"was executed{'. ' + self.hint if self.hint else ''}") from None


def load_array_pickle(path: Union[str, Path], hint: str = "") -> Any:
    r"""Read a pickle of NumPy arrays in builtin containers without running code from it.

    Args:
        path (str or Path): the pickle.
        hint (str, optional): what to do about a refused file, appended to the message (e.g.
            which released file to use instead). (default: :obj:`""`)

    Raises:
        UnsafePickleError: the file names any other global (a class, a function).
        pickle.UnpicklingError, EOFError: the file is damaged or not a pickle.
    """
    path = Path(path)
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, str(path), hint).load()
