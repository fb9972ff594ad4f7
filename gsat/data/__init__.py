r"""Datasets by name: :func:`load_dataset` and the registry behind it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List

from gsat.data.ba_2motifs import generate_ba_2motifs, load_ba_2motifs
from gsat.data.base import GraphDataset, load_graphs, random_split, save_graphs
from gsat.data.ogb import BUILDERS as OGB_BUILDERS
from gsat.errors import UnknownNameError

#: name -> builder(data_dir, seed, **options) -> GraphDataset
DATASETS: Dict[str, Callable[..., GraphDataset]] = {
    "ba_2motifs": load_ba_2motifs,
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

    Raises:
        gsat.errors.UnknownNameError: :obj:`name` is not registered; the message lists the
            valid names.
    """
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, DATASETS)
    return DATASETS[name](data_dir=data_dir, seed=seed, **options)


__all__ = ["DATASETS", "GraphDataset", "dataset_names", "generate_ba_2motifs", "load_dataset",
           "load_graphs", "random_split", "register_dataset", "save_graphs"]
