r"""Datasets by name: :func:`load_dataset` and the registry behind it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List

from gsat.data.ba_2motifs import generate_ba_2motifs, load_ba_2motifs
from gsat.data.base import GraphDataset, load_graphs, random_split, save_graphs
from gsat.data.base import check_dataset, check_graphs
from gsat.data.mutag import load_mutag, read_mutagenicity
from gsat.data.spmotif import generate_spmotif, load_spmotif, spmotif_builder
from gsat.data.ogb import BUILDERS as OGB_BUILDERS
from gsat.data.custom import (infer_task, load_csv_molecules, load_pyg_graphs, read_graph_file,
                              smiles_to_graph, split_file_dataset)
from gsat.errors import UnknownNameError

#: name -> builder(data_dir, seed, **options) -> GraphDataset
DATASETS: Dict[str, Callable[..., GraphDataset]] = {
    "ba_2motifs": load_ba_2motifs,
    "mutag": load_mutag,
    "spmotif_0.5": spmotif_builder(0.5),
    "spmotif_0.7": spmotif_builder(0.7),
    "spmotif_0.9": spmotif_builder(0.9),
    **OGB_BUILDERS,  # ogbg_molhiv, ogbg_moltox21, ogbg_molbace, ogbg_molbbbp, ...
}


def register_dataset(name: str, builder: Callable[..., GraphDataset]) -> None:
    """Make :obj:`builder` available as :obj:`load_dataset(name, ...)` and on the command line."""
    DATASETS[name] = builder


def dataset_names() -> List[str]:
    return sorted(DATASETS)


def load_dataset(name: str, data_dir: str | Path = "data", seed: int = 0,
                 **options: object) -> GraphDataset:
    r"""Build (or read from the cache in :obj:`data_dir`) the dataset :obj:`name` with the
    split of :obj:`seed`.

    Besides the registered names, :obj:`"csv:PATH"` reads molecules from a CSV file
    (:func:`~gsat.data.custom.load_csv_molecules`; options :obj:`smiles_col`,
    :obj:`label_cols`, :obj:`split`) and :obj:`"pyg:PATH"` graphs saved with PyG
    (:func:`~gsat.data.custom.load_pyg_graphs`).

    Raises:
        gsat.errors.UnknownNameError: :obj:`name` is not registered; the message lists the
            valid names.
        gsat.errors.GraphInputError: a graph of the dataset is malformed
            (:func:`~gsat.data.base.check_dataset`).
    """
    from gsat.data.custom import FILE_PREFIXES

    file_dataset = split_file_dataset(name)
    if file_dataset is not None:
        prefix, path = file_dataset
        return check_dataset(FILE_PREFIXES[prefix](path, data_dir=data_dir, seed=seed,
                                                   **options))
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, [*DATASETS, "csv:PATH", "pyg:PATH"])
    return check_dataset(DATASETS[name](data_dir=data_dir, seed=seed, **options))


__all__ = ["DATASETS", "GraphDataset", "check_dataset", "check_graphs", "dataset_names",
           "generate_ba_2motifs", "load_dataset", "generate_spmotif", "load_mutag",
           "load_spmotif", "read_mutagenicity",
           "load_graphs", "random_split", "register_dataset", "save_graphs",
           "infer_task", "load_csv_molecules", "load_pyg_graphs", "read_graph_file",
           "smiles_to_graph"]
