r"""Datasets by name: :func:`load_dataset` and the registry behind it.

Importing this package imports no dataset module (nor PyTorch Geometric, RDKit or ogb), so
that the command line lists the names quickly; a builder imports its module when it is first
called. The datasets themselves live in their modules: :class:`~gsat.data.base.GraphDataset`
and the cache in :mod:`gsat.data.base`, BA-2Motifs in :mod:`gsat.data.ba_2motifs`,
Mutagenicity in :mod:`gsat.data.mutag`, Spurious-Motif in :mod:`gsat.data.spmotif`,
MNIST-75sp in :mod:`gsat.data.mnist`, Graph-SST2 in :mod:`gsat.data.graph_sst2`, the OGB
molecules in :mod:`gsat.data.ogb`, and the user's own files in :mod:`gsat.data.molecules`
(``csv:PATH``) and :mod:`gsat.data.files` (``pyg:PATH``).
"""
from __future__ import annotations

import contextlib
import importlib
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from gsat.data.names import OGB_MOL_DATASETS
from gsat.errors import ConfigError, GSATError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from gsat.data.base import GraphDataset


class _LazyBuilder:
    """A registry builder that imports its dataset module on first call (so that listing
    the names, e.g. for ``gsat --help``, imports nothing heavy). :obj:`bound` arguments come
    first, as with :func:`functools.partial`."""

    def __init__(self, module: str, function: str, *bound: Any):
        self.module, self.function, self.bound = module, function, bound

    def target(self) -> Callable[..., "GraphDataset"]:
        """The builder function itself (imports its module)."""
        return getattr(importlib.import_module(self.module), self.function)

    def __call__(self, *args: Any, **kwargs: Any) -> "GraphDataset":
        return self.target()(*self.bound, *args, **kwargs)

    def __repr__(self) -> str:
        bound = "".join(f", {b!r}" for b in self.bound)
        return f"<dataset builder {self.module}.{self.function}{bound}>"


#: name -> builder(data_dir, seed, **options) -> GraphDataset
DATASETS: Dict[str, Callable[..., "GraphDataset"]] = {
    "ba_2motifs": _LazyBuilder("gsat.data.ba_2motifs", "load_ba_2motifs"),
    "mutag": _LazyBuilder("gsat.data.mutag", "load_mutag"),
    "mnist_75sp": _LazyBuilder("gsat.data.mnist", "load_mnist_75sp"),
    "graph_sst2": _LazyBuilder("gsat.data.graph_sst2", "load_graph_sst2"),
    **{f"spmotif_{b}": _LazyBuilder("gsat.data.spmotif", "load_spmotif", b)
       for b in (0.5, 0.7, 0.9)},
    # ogbg_molhiv, ogbg_moltox21, ogbg_molbace, ogbg_molbbbp, ...
    **{reg: _LazyBuilder("gsat.data.ogb", "load_ogbg_mol", ogb_name)
       for reg, ogb_name in OGB_MOL_DATASETS.items()},
    # node classification (gsat.data.node): NodeDataset, level "node"
    **{name: _LazyBuilder("gsat.data.node.motifs", f"load_{name}")
       for name in ("ba_shapes", "ba_community", "tree_cycles", "tree_grid")},
    "infection": _LazyBuilder("gsat.data.node.infection", "load_infection"),
    **{f"planetoid:{name}": _LazyBuilder("gsat.data.node.real", "load_planetoid", name)
       for name in ("Cora", "CiteSeer", "PubMed")},
    **{f"twitch:{name}": _LazyBuilder("gsat.data.node.real", "load_twitch", name)
       for name in ("DE", "EN", "ES", "FR", "PT", "RU")},
}

#: prefixes of dataset names that read the user's own files: ``csv:PATH``, ``pyg:PATH``
FILE_PREFIXES: Dict[str, _LazyBuilder] = {
    "csv": _LazyBuilder("gsat.data.molecules", "load_csv_molecules"),
    "pyg": _LazyBuilder("gsat.data.files", "load_pyg_graphs"),
}


def register_dataset(name: str, builder: Callable[..., "GraphDataset"]) -> None:
    """Make :obj:`builder` available as :obj:`load_dataset(name, ...)` and on the command line."""
    DATASETS[name] = builder


def dataset_names() -> List[str]:
    return sorted(DATASETS)


def check_dataset_name(name: str) -> str:
    r"""Refuse a dataset name that is neither registered nor ``csv:PATH`` / ``pyg:PATH``
    (:class:`~gsat.errors.UnknownNameError`, with the closest name when there is one);
    imports nothing heavy, so the command line checks it before PyTorch loads. Returns
    :obj:`name`."""
    if split_file_dataset(name) is None and name not in DATASETS:
        raise UnknownNameError("dataset", name, [*DATASETS, "csv:PATH", "pyg:PATH"])
    return name


def load_dataset(name: str, data_dir: str | Path = "data", seed: int = 0,
                 **options: object) -> "GraphDataset":
    r"""Build (or read from the cache in :obj:`data_dir`) the dataset :obj:`name` with the
    split of :obj:`seed`.

    Besides the registered names, :obj:`"csv:PATH"` reads molecules from a CSV file
    (:func:`~gsat.data.molecules.load_csv_molecules`; options :obj:`smiles_col`,
    :obj:`label_cols`, :obj:`split`) and :obj:`"pyg:PATH"` graphs saved with PyG
    (:func:`~gsat.data.files.load_pyg_graphs`).

    Node classification datasets (:obj:`ba_shapes`, :obj:`ba_community`,
    :obj:`tree_cycles`, :obj:`tree_grid`, :obj:`infection`, :obj:`planetoid:Cora` ...,
    :obj:`twitch:EN` ..., and a ``pyg:PATH`` file of one graph with a label per node) are
    returned as a :class:`~gsat.data.node.base.NodeDataset` (:obj:`level == "node"`), which
    checks itself when built.

    Raises:
        gsat.errors.UnknownNameError: :obj:`name` is not registered; the message lists the
            valid names.
        gsat.errors.GraphInputError: a graph of the dataset is malformed
            (:func:`~gsat.core.validation.check_dataset`).
    """
    file_dataset = split_file_dataset(name)
    if file_dataset is not None:
        prefix, path = file_dataset
        builder = FILE_PREFIXES[prefix]
        check_options(name, builder.target(), options, skip=1)
        with builder_errors(name):
            ds = builder(path, data_dir=data_dir, seed=seed, **options)
        return _checked(name, ds)
    check_dataset_name(name)
    builder = DATASETS[name]
    if isinstance(builder, _LazyBuilder):
        check_options(name, builder.target(), options, skip=len(builder.bound))
    with builder_errors(name):
        ds = builder(data_dir=data_dir, seed=seed, **options)
    return _checked(name, ds)


@contextlib.contextmanager
def builder_errors(name: str) -> Iterator[None]:
    r"""Within the block (a dataset builder at work), the builder's own refusals of its
    arguments or files, a :class:`ValueError` (e.g. ``num_graphs must be >= 2``) or a
    :class:`pickle.UnpicklingError`, become a :class:`~gsat.errors.ConfigError` naming the
    dataset: they are input mistakes (exit code 2), not failures of the program. gsat's own
    errors pass unchanged."""
    try:
        yield
    except GSATError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(f"dataset {name!r}: {' '.join(str(exc).split())}") from exc
    except ValueError as exc:
        raise ConfigError(f"dataset {name!r}: {' '.join(str(exc).split())}") from exc


class UnsafeFileError(ConfigError, pickle.UnpicklingError):
    """A data file that a builder refused to unpickle (it needs a global other than the
    plain arrays it should hold): an input mistake, still a
    :class:`pickle.UnpicklingError` for code that catches that."""


#: builder arguments that are not dataset options
_NOT_OPTIONS = ("data_dir", "seed")


def check_options(name: str, builder: Callable[..., Any], options: Dict[str, Any],
                  skip: int = 0) -> None:
    r"""Refuse dataset options that :obj:`builder` does not name as a parameter, and values
    that are not numbers where the parameter's default is one (a whole number for an integer
    default, true/false for a boolean), with a :class:`~gsat.errors.ConfigError` that
    lists the valid options. :obj:`skip` leading positional parameters are bound already."""
    import inspect

    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = [p for p in inspect.signature(builder).parameters.values() if p.kind in kinds]
    params = {p.name: p for p in params[skip:] if p.name not in _NOT_OPTIONS}
    for key, value in options.items():
        if key not in params:
            valid = ", ".join(sorted(params)) or "none"
            raise ConfigError(f"unknown option {key!r} of dataset {name!r}; its options: "
                              f"{valid}")
        default = params[key].default
        expected = (bool if isinstance(default, bool) else int if isinstance(default, int)
                    else (int, float) if isinstance(default, float) else None)
        wrong_bool = isinstance(value, bool) and expected is not bool
        if expected is not None and (wrong_bool or not isinstance(value, expected)):
            kind = {bool: "true or false", int: "a whole number"}.get(expected, "a number")
            raise ConfigError(f"dataset option {key} of {name!r} must be {kind}, got "
                              f"{value!r}")


def _checked(name: str, ds: Any) -> Any:
    """:obj:`ds` after the checks of its level: every graph and split of a graph dataset; a
    node dataset checked itself when it was built."""
    if getattr(ds, "level", "graph") == "node":
        return ds
    from gsat.core.validation import check_dataset

    return _check_splits(name, check_dataset(ds))


def _check_splits(name: str, ds: "GraphDataset") -> "GraphDataset":
    """Refuse a dataset with an empty training, validation or test split (model selection
    and the reported scores would be meaningless)."""
    for split in ("train", "valid", "test"):
        if len(getattr(ds, split)) == 0:
            raise ConfigError(f"dataset {name!r} has an empty {split} split "
                              f"({len(ds.train)} / {len(ds.valid)} / {len(ds.test)} graphs); "
                              "use more graphs (e.g. a larger num_graphs option)")
    return ds


def split_file_dataset(name: str) -> Optional[Tuple[str, str]]:
    r"""``("csv", PATH)`` for :obj:`"csv:PATH"` (likewise ``pyg:``), else :obj:`None`."""
    prefix, sep, rest = name.partition(":")
    if sep and prefix in FILE_PREFIXES:
        if not rest:
            raise ConfigError(f"--dataset {name}: give a path after '{prefix}:'")
        return prefix, rest
    return None


def dataset_label(name: str) -> str:
    r"""A folder-safe label of a dataset name: :obj:`name` itself for registered datasets,
    :obj:`"<prefix>_<file stem>"` for ``csv:PATH`` / ``pyg:PATH``."""
    file_dataset = split_file_dataset(name)
    if file_dataset is None:
        return name.replace(":", "_")  # planetoid:Cora -> planetoid_Cora
    prefix, path = file_dataset
    return f"{prefix}_{Path(path.rstrip('/')).stem or 'data'}"


__all__ = ["DATASETS", "FILE_PREFIXES", "UnsafeFileError", "builder_errors", "check_dataset_name",
           "check_options", "dataset_label", "dataset_names",
           "load_dataset", "register_dataset", "split_file_dataset"]
