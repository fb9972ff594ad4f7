r"""Molecular property prediction from the Open Graph Benchmark (`Hu et al., NeurIPS 2020
<https://arxiv.org/abs/2005.00687>`_): ``ogbg-molhiv``, ``-moltox21``, ``-molbace``,
``-molbbbp``, ``-molclintox`` and ``-molsider``, read with ogb's own
:class:`~ogb.graphproppred.PygGraphPropPredDataset`, split with the official scaffold split
and scored with ogb's :class:`~ogb.graphproppred.Evaluator` (ROC AUC, through
:class:`gsat.metrics.prediction.OGBEvaluator`).

Loading never waits for keyboard input: ogb asks interactively whether to replace a folder
whose release note is missing; here the answer is always "no" (the files on disk are used
as they are, with a warning). Without network the data must already lie in
``<data_dir>/<ogbg_name>/`` in ogb's layout; otherwise :class:`gsat.errors.DataMissingError`
says which folder is expected and where to get it.
"""
from __future__ import annotations

import contextlib
import io
import logging
import pickle
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from gsat.data.base import GraphDataset
from gsat.errors import ConfigError, DataMissingError
from gsat.metrics.prediction import OGBEvaluator

log = logging.getLogger(__name__)

#: Element symbols by atomic number - 1 (the first atom feature of ogb's ``smiles2graph``);
#: index 118 is ogb's "misc" atom type.
ELEMENT_SYMBOLS: List[str] = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge "
    "As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm "
    "Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U "
    "Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og *").split()

#: seconds a network operation of a download may stall before it counts as failed
DOWNLOAD_TIMEOUT = 60.0


def _import_ogb() -> Any:
    try:
        import ogb.graphproppred.dataset_pyg as dataset_pyg
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise DataMissingError("the OGB datasets need the 'ogb' package: "
                               "pip install -e \".[ogb]\"") from exc
    return dataset_pyg


@contextlib.contextmanager
def _non_interactive(dataset_pyg: Any) -> Iterator[None]:
    r"""Within the block, the question ogb's dataset class asks on the terminal when a folder
    lacks its release note (whether to replace the data) is answered "no" without reading
    input. Only the name :obj:`input` in that ogb module is replaced, and only within the
    block; downloads do not go through ogb's prompting helper (see :func:`_download`)."""

    def refuse(prompt: str = "") -> str:
        log.warning("ogb asked %r; answering 'no' (loading is never interactive)",
                    prompt.strip())
        return "n"

    saved = dataset_pyg.__dict__.get("input", None)
    dataset_pyg.input = refuse
    try:
        yield
    finally:
        if saved is None:
            del dataset_pyg.input
        else:
            dataset_pyg.input = saved


def _download(url: str, folder: Path, max_gb: float = 1.0) -> Path:
    r"""Download :obj:`url` into :obj:`folder` with :data:`DOWNLOAD_TIMEOUT` seconds per
    network operation (an argument of :func:`urllib.request.urlopen`, not a process-wide
    default); archives larger than :obj:`max_gb` GB are refused, as ogb's own prompt would
    be answered."""
    import urllib.request

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / url.rpartition("/")[2].split("?")[0]
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
        size = int(resp.headers.get("Content-Length") or 0) / 2 ** 30
        if size > max_gb:
            raise DataMissingError(f"{url} is {size:.2f} GB, more than {max_gb} GB; download "
                                   "it yourself")
        with open(path, "wb") as f:
            shutil.copyfileobj(resp, f, length=2 ** 20)
    return path


def _safe_globals() -> List[Any]:
    r"""The classes a file written by ogb (a pickled PyG :class:`Data` and NumPy arrays)
    needs beyond what :func:`torch.load` with :obj:`weights_only=True` allows by default.
    They are plain data containers; nothing else is allowed."""
    from torch_geometric.data.data import Data as PygData
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    dtypes = {type(np.dtype(t)) for t in (np.int64, np.int32, np.float32, np.float64,
                                          np.bool_)}
    return [PygData, DataEdgeAttr, DataTensorAttr, GlobalStorage, np.ndarray, np.dtype,
            multiarray._reconstruct, multiarray.scalar, *dtypes]


def _safe_loading() -> contextlib.AbstractContextManager:
    """:func:`torch.serialization.safe_globals` with :func:`_safe_globals` (torch >= 2.5;
    older torch does not load with :obj:`weights_only=True` by default)."""
    ctx = getattr(torch.serialization, "safe_globals", None)
    return ctx(_safe_globals()) if ctx is not None else contextlib.nullcontext()


def _missing_message(name: str, folder: Path, url: str, reason: str) -> str:
    zip_dir = url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return (f"{name} is not in {folder} and could not be downloaded ({reason}). On a machine "
            f"with network run `python -c \"from ogb.graphproppred import "
            f"PygGraphPropPredDataset as D; D('{name}', root='.')\"` and copy the folder "
            f"{folder.name}/ it creates into {folder.parent}/, or download {url}, unzip it "
            f"and rename its folder "
            f"'{zip_dir}' to {folder} (it must hold raw/, split/scaffold/ and "
            f"RELEASE_v1.txt).")


def open_ogb_dataset(name: str, root: str | Path = "data",
                     meta_dict: Optional[Mapping[str, Any]] = None) -> Any:
    r"""Open an OGB graph property dataset with ogb's
    :class:`~ogb.graphproppred.PygGraphPropPredDataset`, safely and without prompts.

    - The processed file ogb writes is read with :func:`torch.load` under
      :obj:`weights_only=True`, allowing only PyG's and NumPy's data containers
      (:func:`torch.serialization.safe_globals`); a processed file that still cannot be read
      that way (e.g. written by an old PyG) is rebuilt from the raw files.
    - Questions ogb would ask on the terminal are answered "no"; nothing reads stdin.
    - ogb's messages on stdout go to the :mod:`logging` debug log.

    Args:
        name (str): ogb name, e.g. :obj:`"ogbg-molhiv"`.
        root (str or Path, optional): data root; the dataset lives in
            :obj:`<root>/<name with - replaced by _>/`. (default: :obj:`"data"`)
        meta_dict (dict, optional): ogb's metadata of a dataset of one's own (as returned by
            :meth:`ogb.io.DatasetSaver.get_meta_dict`); :obj:`root` is then ignored and the
            files are read from :obj:`meta_dict["dir_path"]`. (default: :obj:`None`)

    Raises:
        gsat.errors.DataMissingError: the files are absent and the download failed; the
            message names the expected folder and how to obtain it.
    """
    dataset_pyg = _import_ogb()
    if meta_dict is not None:
        folder = Path(meta_dict["dir_path"])
        url = str(meta_dict.get("url", ""))
    else:
        folder = Path(root) / name.replace("-", "_")
        import pandas as pd

        master = pd.read_csv(Path(dataset_pyg.__file__).parent / "master.csv", index_col=0,
                             keep_default_na=False)
        url = str(master[name]["url"]) if name in master else ""
    existed = folder.exists()

    class Dataset(dataset_pyg.PygGraphPropPredDataset):
        def download(self) -> None:  # ogb's steps, without its prompt and global timeout
            try:
                from ogb.utils.url import extract_zip

                path = _download(self.meta_info["url"], Path(self.original_root))
                extract_zip(str(path), self.original_root)
                path.unlink()
                shutil.rmtree(self.root)
                shutil.move(str(Path(self.original_root) / self.download_name), self.root)
            except (Exception, SystemExit) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise DataMissingError(_missing_message(name, folder, url, reason)) from None

    Dataset.__name__ = Dataset.__qualname__ = "PygGraphPropPredDataset"

    def build() -> Any:
        out = io.StringIO()
        try:
            with _non_interactive(dataset_pyg), contextlib.redirect_stdout(out), \
                    _safe_loading():
                return Dataset(name, root=str(root), meta_dict=dict(meta_dict)
                               if meta_dict is not None else None)
        finally:
            if out.getvalue().strip():
                log.debug("ogb: %s", " | ".join(out.getvalue().split("\n")).strip(" |"))

    try:
        try:
            return build()
        except pickle.UnpicklingError as exc:
            processed = folder / "processed" / "geometric_data_processed.pt"
            log.warning("%s cannot be read safely (%s); rebuilding it from the raw files",
                        processed, str(exc).splitlines()[0])
            processed.unlink(missing_ok=True)
            return build()
    except DataMissingError:
        if not existed and folder.exists():  # leave no half-made folder behind
            shutil.rmtree(folder, ignore_errors=True)
        raise


def ogb_split(dataset: Any) -> Dict[str, Tensor]:
    r"""The official split of an opened OGB dataset (:meth:`get_idx_split`), read with
    :func:`torch.load` under :obj:`weights_only=True` (NumPy arrays allowed)."""
    with _safe_loading():
        split = dataset.get_idx_split()
    return {k: torch.as_tensor(np.asarray(v), dtype=torch.long).view(-1)
            for k, v in split.items()}


def _prepare(g: Data) -> Data:
    """A graph of the dataset with :obj:`node_type` = atomic number - 1 (for pictures)."""
    g.node_type = g.x[:, 0]
    return g


def load_ogbg_mol(name: str = "ogbg-molhiv", data_dir: str | Path = "data", seed: int = 0,
                  meta_dict: Optional[Mapping[str, Any]] = None, **_: object) -> GraphDataset:
    r"""An OGB molecular dataset as a :class:`~gsat.data.base.GraphDataset` with the official
    (scaffold) split.

    Node features are ogb's 9 categorical atom features (the first is the atomic number - 1),
    edge features its 3 bond features; models encode them with ogb's ``AtomEncoder`` /
    ``BondEncoder`` (config key :obj:`model.atom_encoder`). Labels have shape
    :obj:`[1, num_tasks]`, missing labels are NaN; the regression sets (``ogbg-molesol``,
    ``ogbg-molfreesolv``, ``ogbg-mollipo``) hold real values, scored by RMSE (lower is
    better). The metric is computed by ogb's
    :class:`~ogb.graphproppred.Evaluator`
    (:class:`~gsat.metrics.prediction.OGBEvaluator`). There is no ground truth for
    explanations; :obj:`node_names` holds element symbols for pictures.

    Args:
        name (str, optional): ogb name. (default: :obj:`"ogbg-molhiv"`)
        data_dir (str or Path, optional): data root holding :obj:`<ogbg_name>/` in ogb's
            layout; a missing dataset is downloaded there. (default: :obj:`"data"`)
        seed (int, optional): unused, the split is fixed. (default: :obj:`0`)
        meta_dict (dict, optional): read a dataset of one's own in ogb's format from
            :obj:`meta_dict["dir_path"]` (see :func:`save_ogb_mol_dataset`); its number of
            tasks must match that of :obj:`name`, whose evaluator scores it.

    Raises:
        gsat.errors.DataMissingError: the data is absent and cannot be downloaded.
    """
    evaluator = OGBEvaluator(name)
    ds = open_ogb_dataset(name, data_dir, meta_dict)
    num_tasks = int(ds.num_tasks)
    if num_tasks != evaluator.num_tasks:
        raise ConfigError(f"the dataset in {ds.root} has {num_tasks} task(s) but the evaluator "
                          f"of {name} expects {evaluator.num_tasks}")
    split = ogb_split(ds)
    graphs = [_prepare(ds[i]) for i in range(len(ds))]
    parts = {k: [graphs[int(i)] for i in idx] for k, idx in split.items()}
    first = graphs[0]
    reg_name = name.replace("-", "_")
    return GraphDataset(
        name=reg_name, train=parts["train"], valid=parts["valid"], test=parts["test"],
        num_features=first.x.size(1), num_outputs=num_tasks,
        task=evaluator.task, metric=evaluator.metric,
        edge_dim=None if first.edge_attr is None else first.edge_attr.size(1),
        has_ground_truth=False, undirected=True, node_names=list(ELEMENT_SYMBOLS),
        config_name="ogbg_mol", evaluator=evaluator,
        extra={"ogb_name": name, "root": str(ds.root), "num_tasks": num_tasks,
               **({"class_names": ["inactive", "active"]} if evaluator.task == "binary"
                  else {})})


def save_ogb_mol_dataset(smiles: Sequence[str], labels: np.ndarray,
                         split: Mapping[str, Sequence[int]], root: str | Path,
                         name: str = "ogbg-molcustom", regression: bool = False
                         ) -> Dict[str, Any]:
    r"""Write molecules in OGB's on-disk format with ogb's own tools
    (:func:`ogb.utils.smiles2graph`, which needs RDKit, and :class:`ogb.io.DatasetSaver`),
    ready for :func:`load_ogbg_mol` with :obj:`meta_dict`.

    Args:
        smiles (list of str): one SMILES string per molecule.
        labels (numpy.ndarray): shape :obj:`[num_molecules, num_tasks]`, 0/1 or NaN (missing);
            real values with :obj:`regression`.
        split (dict): :obj:`"train"`, :obj:`"valid"`, :obj:`"test"` index lists.
        root (str or Path): folder to write into (ogb adds ``submission_<name>/``).
        name (str, optional): an ogb-style name starting with :obj:`ogbg-`.
            (default: :obj:`"ogbg-molcustom"`)
        regression (bool, optional): the labels are real values (ogb's task type
            ``regression``, metric RMSE), as in ``ogbg-molesol``. (default: :obj:`False`)

    Returns:
        dict: ogb's metadata (:meth:`ogb.io.DatasetSaver.get_meta_dict`).
    """
    from ogb.io import DatasetSaver
    from ogb.utils import smiles2graph

    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[0] != len(smiles):
        raise ValueError(f"labels must have shape [{len(smiles)}, num_tasks], got "
                         f"{list(labels.shape)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / ("submission_" + "_".join(name.split("-")))
    if target.exists():  # DatasetSaver would ask on the terminal whether to remove it
        raise FileExistsError(f"{target} already exists; remove it or choose another root")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        saver = DatasetSaver(name, is_hetero=False, version=1,
                             root=str(root / "submission"))
        saver.save_graph_list([smiles2graph(s) for s in smiles])
        saver.save_target_labels(labels)
        if regression:
            saver.save_task_info("regression", "rmse")
        else:
            saver.save_task_info("binary classification", "rocauc", num_classes=2)
        saver.save_split({k: np.asarray(v, dtype=np.int64) for k, v in split.items()},
                         "scaffold")
        mapping = root / "mapping"
        mapping.mkdir(exist_ok=True)
        (mapping / "README.md").write_text(f"{name}: molecules in input order\n")
        saver.copy_mapping_dir(str(mapping))
        meta = saver.get_meta_dict()
    return meta

