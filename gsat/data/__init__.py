r"""Datasets by name: :func:`load_dataset` and the registry behind it."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Dict, List

from gsat._lazy import lazy_getattr
from gsat.data.names import OGB_MOL_DATASETS
from gsat.errors import UnknownNameError


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


#: name -> builder(data_dir, seed, **options) -> GraphDataset (or NodeDataset)
DATASETS: Dict[str, Callable[..., "GraphDataset"]] = {
    "ba_2motifs": _LazyBuilder("gsat.data.ba_2motifs", "load_ba_2motifs"),
    "mutag": _LazyBuilder("gsat.data.mutag", "load_mutag"),
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

#: public name -> module that defines it (imported on first use)
_EXPORTS = {
    "generate_ba_2motifs": "gsat.data.ba_2motifs", "load_ba_2motifs": "gsat.data.ba_2motifs",
    "GraphDataset": "gsat.data.base", "load_graphs": "gsat.data.base",
    "NodeDataset": "gsat.data.node.base",
    "random_split": "gsat.data.base", "save_graphs": "gsat.data.base",
    "check_dataset": "gsat.data.base", "check_graphs": "gsat.data.base",
    "load_mutag": "gsat.data.mutag", "read_mutagenicity": "gsat.data.mutag",
    "generate_spmotif": "gsat.data.spmotif", "load_spmotif": "gsat.data.spmotif",
    "spmotif_builder": "gsat.data.spmotif",
    "infer_task": "gsat.data.custom", "load_csv_molecules": "gsat.data.custom",
    "load_pyg_graphs": "gsat.data.custom", "read_graph_file": "gsat.data.custom",
    "smiles_to_graph": "gsat.data.custom", "split_file_dataset": "gsat.data.custom",
}


__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)


def register_dataset(name: str, builder: Callable[..., "GraphDataset"]) -> None:
    """Make :obj:`builder` available as :obj:`load_dataset(name, ...)` and on the command line."""
    DATASETS[name] = builder


def dataset_names() -> List[str]:
    return sorted(DATASETS)


def load_dataset(name: str, data_dir: str | Path = "data", seed: int = 0,
                 **options: object) -> "GraphDataset":
    r"""Build (or read from the cache in :obj:`data_dir`) the dataset :obj:`name` with the
    split of :obj:`seed`.

    Besides the registered names, :obj:`"csv:PATH"` reads molecules from a CSV file
    (:func:`~gsat.data.custom.load_csv_molecules`; options :obj:`smiles_col`,
    :obj:`label_cols`, :obj:`split`) and :obj:`"pyg:PATH"` graphs saved with PyG
    (:func:`~gsat.data.custom.load_pyg_graphs`).

    Node classification datasets (:obj:`ba_shapes`, :obj:`ba_community`,
    :obj:`tree_cycles`, :obj:`tree_grid`, :obj:`infection`, :obj:`planetoid:Cora` ...,
    :obj:`twitch:EN` ..., and a ``pyg:PATH`` file of one graph with a label per node) are
    returned as a :class:`~gsat.data.node.base.NodeDataset` (:obj:`level == "node"`), which
    checks itself when built.

    Raises:
        gsat.errors.UnknownNameError: :obj:`name` is not registered; the message lists the
            valid names.
        gsat.errors.GraphInputError: a graph of the dataset is malformed
            (:func:`~gsat.data.base.check_dataset`).
    """
    from gsat.data.custom import FILE_PREFIXES, split_file_dataset

    file_dataset = split_file_dataset(name)
    if file_dataset is not None:
        prefix, path = file_dataset
        builder = FILE_PREFIXES[prefix]
        check_options(name, builder, options, skip=1)
        return _checked(name, builder(path, data_dir=data_dir, seed=seed, **options))
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, [*DATASETS, "csv:PATH", "pyg:PATH"])
    builder = DATASETS[name]
    if isinstance(builder, _LazyBuilder):
        check_options(name, builder.target(), options, skip=len(builder.bound))
    return _checked(name, builder(data_dir=data_dir, seed=seed, **options))


#: builder arguments that are not dataset options
_NOT_OPTIONS = ("data_dir", "seed")


def check_options(name: str, builder: Callable[..., Any], options: Dict[str, Any],
                  skip: int = 0) -> None:
    r"""Refuse dataset options that :obj:`builder` does not name as a parameter, and values
    that are not numbers where the parameter's default is one (a whole number for an integer
    default, true/false for a boolean), with a :class:`~gsat.errors.ConfigError` that
    lists the valid options. :obj:`skip` leading positional parameters are bound already."""
    import inspect

    from gsat.errors import ConfigError

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
    from gsat.data.base import check_dataset

    return _check_splits(name, check_dataset(ds))


def _check_splits(name: str, ds: "GraphDataset") -> "GraphDataset":
    """Refuse a dataset with an empty training, validation or test split (model selection
    and the reported scores would be meaningless)."""
    from gsat.errors import ConfigError

    for split in ("train", "valid", "test"):
        if len(getattr(ds, split)) == 0:
            raise ConfigError(f"dataset {name!r} has an empty {split} split "
                              f"({len(ds.train)} / {len(ds.valid)} / {len(ds.test)} graphs); "
                              "use more graphs (e.g. a larger num_graphs option)")
    return ds


__all__ = ["DATASETS", "GraphDataset", "NodeDataset", "check_dataset", "check_graphs",
           "dataset_names",
           "generate_ba_2motifs", "load_dataset", "generate_spmotif", "load_mutag",
           "load_spmotif", "read_mutagenicity",
           "load_graphs", "random_split", "register_dataset", "save_graphs",
           "infer_task", "load_csv_molecules", "load_pyg_graphs", "read_graph_file",
           "smiles_to_graph"]
