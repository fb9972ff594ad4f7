r"""Input validation of graphs, in one place.

Graphs are checked where they enter: a dataset when it is loaded (:func:`check_dataset`,
:func:`gsat.data.load_dataset`), the loaders of :func:`gsat.fit` in their first training
pass, a model's input in evaluation mode and in :meth:`gsat.GSAT.explain`
(:meth:`gsat.GSAT.check_input`), and the graphs of ``gsat explain`` and
:func:`gsat.load_run`'s callers; a training step does not check its (already checked) batch
again. A malformed graph raises :class:`gsat.errors.GraphInputError` (a :class:`ValueError`)
saying what was expected and what arrived. Structural checks build on PyG's own
:meth:`torch_geometric.data.Data.validate` (``num_nodes`` consistency, index range) and add
what GSAT needs on top of it (feature width and dtype, finiteness, a well-formed ``batch``).

Dtype policy (decided once, applied on entry by :func:`model_inputs`):

- :obj:`edge_index` and :obj:`batch` of **any integer dtype** (``int32``, ``int16``,
  ``uint8`` ...) are accepted and converted to :obj:`torch.long` once; floating point or
  boolean indices are refused.
- Floating point node / edge features of **any floating dtype** (``float64``, ``float16``,
  ``bfloat16`` ...) are converted to the dtype of the model's parameters; values that do not
  fit that dtype (e.g. ``1e300`` for a ``float32`` model) are refused, never silently turned
  into infinities.
- Finite features so large that the model's attention or logits overflow (e.g. ``3e38``) are
  reported by :func:`check_finite_output` instead of returning NaN attention.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gsat.core.checks import check_choice, check_path
from gsat.errors import GraphInputError

__all__ = ["check_graph", "check_graphs", "check_dataset", "model_inputs",
           "check_finite_output", "is_index_dtype", "check_seeds", "check_device",
           "check_path", "check_choice"]


def is_index_dtype(dtype: torch.dtype) -> bool:
    """Whether :obj:`dtype` is an integer dtype usable for node / graph indices (any signed or
    unsigned integer type; not :obj:`torch.bool`, floating point or complex)."""
    return dtype != torch.bool and not dtype.is_floating_point and not dtype.is_complex


#: how to sort the nodes of a batch by graph, as the message of an unsorted batch says
SORT_BATCH = ("sort its nodes by graph with data = data.subgraph(data.batch.argsort("
              "stable=True)) (edges, their order and attributes are kept), or build batches "
              "with torch_geometric.data.Batch.from_data_list")


def _check_tensor(t: Tensor, name: str, device: Optional[torch.device] = None) -> None:
    """:obj:`t` (an attribute of the graph) holds values on a real device, the device of
    the node features :obj:`device` when given, before any of its values is read."""
    if t.is_meta:
        raise GraphInputError(f"{name} is on the meta device, which holds shapes but no "
                              "values; make the graph's tensors on cpu or cuda")
    if device is not None and t.device != device:
        raise GraphInputError(f"{name} is on {t.device} but the node features 'x' on "
                              f"{device}; move the whole graph with data.to(device)")


def _check_batch(batch: Any, ei: Tensor, n: int) -> None:
    if not isinstance(batch, Tensor) or batch.dim() != 1 or batch.numel() != n:
        shape = list(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
        raise GraphInputError(f"batch must be a vector with one entry per node ([{n}]), "
                              f"got {shape}")
    _check_tensor(batch, "batch", ei.device)
    if not is_index_dtype(batch.dtype) or int(batch.min()) < 0:
        raise GraphInputError(f"batch must hold non-negative graph indices (torch.long), "
                              f"got dtype {batch.dtype}")
    b = batch.long()
    if n > 1:
        step = b[1:] - b[:-1]
        if bool((step < 0).any()):
            i = int((step < 0).nonzero()[0]) + 1
            raise GraphInputError(f"batch must be sorted (the nodes of graph 0 first, then "
                                  f"graph 1, ...), but node {i} belongs to graph {int(b[i])} "
                                  f"after a node of graph {int(b[i - 1])}; {SORT_BATCH}")
        gaps = step > 1
    else:
        gaps = b.new_zeros(0, dtype=torch.bool)
    if int(b[0]) != 0 or bool(gaps.any()):
        present = torch.unique(b)
        missing = sorted(set(range(int(b.max()) + 1)) - set(present.tolist()))
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise GraphInputError(f"batch must number the graphs 0..B-1 without gaps, but graph(s) "
                              f"{shown} have no nodes (batch holds {present.numel()} graphs "
                              f"with indices up to {int(b.max())}); every graph needs at least "
                              "one node")
    if ei.numel() > 0:
        cross = b[ei[0].long()] != b[ei[1].long()]
        if bool(cross.any()):
            e = int(cross.nonzero()[0])
            u, v = int(ei[0, e]), int(ei[1, e])
            raise GraphInputError(f"edge {e} ({u} -> {v}) joins graph {int(b[u])} and graph "
                                  f"{int(b[v])} of the batch; an edge must stay inside one graph")


def check_graph(data: Any, in_channels: Optional[int] = None, edge_dim: Optional[int] = None,
                needs_edge_attr: bool = False) -> None:
    r"""Raise :class:`gsat.errors.GraphInputError` (a :class:`ValueError`) if :obj:`data` is
    not a valid graph (batch); the message says what was expected and what arrived.

    Checks: :obj:`x` present, two-dimensional with at least one node, floating point (integer
    only when the model encodes categories itself, :obj:`in_channels=None`), finite, of width
    :obj:`in_channels` (if known); :obj:`edge_index` a tensor of any integer dtype of shape
    :obj:`[2, E]` with indices in :obj:`[0, num_nodes)`; :obj:`batch` (if present) an integer
    vector with one entry per node, sorted (the message of an unsorted one says how to sort
    it, :data:`SORT_BATCH`), numbering the graphs :math:`0..B-1` without gaps,
    and no edge joining two graphs; an explicit :obj:`num_nodes` equal to the rows of
    :obj:`x` (PyG's :meth:`~torch_geometric.data.Data.validate`); :obj:`edge_attr` (if present,
    or required by :obj:`needs_edge_attr`) one finite row per edge, of width :obj:`edge_dim`
    (if known). Graphs without edges, isolated nodes, self-loops, duplicate and one-way edges
    are valid. Every tensor must hold values (not the ``meta`` device) on the device of
    :obj:`x`, and a list of graphs is refused with a message saying how to batch it. Nothing
    is converted here; :func:`model_inputs` converts dtypes.

    Args:
        data (torch_geometric.data.Data or Batch): the graph(s).
        in_channels (int, optional): node feature width the model expects.
            (default: :obj:`None`)
        edge_dim (int, optional): edge feature width the model expects. (default: :obj:`None`)
        needs_edge_attr (bool, optional): the model uses edge features.
            (default: :obj:`False`)
    """
    if isinstance(data, (list, tuple)):
        raise GraphInputError(
            f"expected one graph or a batch (torch_geometric.data.Data or Batch), got a "
            f"{type(data).__name__} of {len(data)} graphs; "
            + ("batch them with torch_geometric.data.Batch.from_data_list(graphs)" if data
               else "there is no graph to run: give at least one"))
    x = _check_x(getattr(data, "x", None), in_channels)
    ei = _check_edge_index(getattr(data, "edge_index", None), x.size(0), x.device)
    if isinstance(data, Data):
        _check_num_nodes(data, x.size(0))
    batch = getattr(data, "batch", None)
    if batch is not None:
        _check_batch(batch, ei, x.size(0))
    _check_edge_attr(getattr(data, "edge_attr", None), ei, edge_dim, needs_edge_attr)


def _check_x(x: Any, in_channels: Optional[int]) -> Tensor:
    """:obj:`x` checked: a 2-d tensor with at least one node, floating point and of width
    :obj:`in_channels` when that is known, finite."""
    if x is None:
        raise GraphInputError("the graph has no node features 'x'; give every node a feature "
                              "vector (e.g. a constant) before calling the model")
    if not isinstance(x, Tensor):
        raise GraphInputError(f"node features 'x' must be a torch.Tensor, got "
                              f"{type(x).__name__}")
    _check_tensor(x, "node features 'x'")
    if x.dim() != 2:
        raise GraphInputError(f"node features 'x' must have shape [num_nodes, num_features], "
                              f"got {list(x.shape)}")
    if x.size(0) == 0:
        raise GraphInputError("the graph has no nodes (x has shape "
                              f"{list(x.shape)}); every graph needs at least one node")
    if in_channels is not None and not x.is_floating_point():
        raise GraphInputError(f"node features 'x' must be floating point for this model, got "
                              f"{x.dtype}; convert them with x.float()")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(-1).nonzero()[0])
        raise GraphInputError(f"node features 'x' must be finite, but node {bad} has NaN or "
                              "infinite values; clean or impute them first")
    if in_channels is not None and x.size(1) != in_channels:
        raise GraphInputError(f"node features 'x' must have shape [num_nodes, {in_channels}] "
                              f"for this model, got {list(x.shape)}")
    return x


def _check_edge_index(ei: Any, n: int, device: Optional[torch.device] = None) -> Tensor:
    """:obj:`edge_index` checked: an integer :obj:`[2, E]` tensor of indices in
    :obj:`[0, n)` (on :obj:`device`, that of the node features, when given)."""
    if ei is None:
        raise GraphInputError("the graph has no 'edge_index'; use an empty tensor of shape "
                              "[2, 0] (dtype torch.long) for a graph without edges")
    if not isinstance(ei, Tensor):
        raise GraphInputError(f"edge_index must be a torch.Tensor of shape [2, num_edges], "
                              f"got {type(ei).__name__}")
    _check_tensor(ei, "edge_index", device)
    if not is_index_dtype(ei.dtype):
        raise GraphInputError(f"edge_index must be an integer tensor (torch.long), got {ei.dtype}")
    if ei.dim() != 2 or ei.size(0) != 2:
        raise GraphInputError(f"edge_index must have shape [2, num_edges], got {list(ei.shape)}"
                              + (f" ({ei.size(0)} rows, 2 expected)" if ei.dim() == 2 else ""))
    if ei.numel() > 0:
        lo, hi = int(ei.min()), int(ei.max())
        if lo < 0 or hi >= n:
            raise GraphInputError(f"edge_index refers to node {hi if hi >= n else lo} but the "
                                  f"graph has {n} nodes (valid indices: 0..{n - 1})")
    return ei


def _check_num_nodes(data: Data, n: int) -> None:
    """A declared :obj:`num_nodes` equal to the :obj:`n` rows of :obj:`x`, then PyG's own
    structural check (after ours, whose messages are more specific)."""
    declared = data.num_nodes
    if declared != n:
        raise GraphInputError(f"the graph declares num_nodes={declared}, but x has {n} rows")
    try:
        data.validate(raise_on_error=True)
    except ValueError as exc:
        raise GraphInputError(str(exc)) from None


def _check_edge_attr(ea: Any, ei: Tensor, edge_dim: Optional[int],
                     needs_edge_attr: bool) -> None:
    """:obj:`edge_attr` (required when :obj:`needs_edge_attr`) checked: one finite row per
    edge, of width :obj:`edge_dim` when the model uses edge features of a known width."""
    if ea is None:
        if needs_edge_attr:
            raise GraphInputError("this model uses edge features, but the graph has no "
                                  f"'edge_attr' (expected shape [num_edges, {edge_dim or 'D'}])")
        return
    if not isinstance(ea, Tensor) or ea.dim() == 0 or ea.size(0) != ei.size(1):
        shape = list(ea.shape) if isinstance(ea, Tensor) else type(ea).__name__
        raise GraphInputError(f"edge_attr must have one row per edge ({ei.size(1)}), got "
                              f"{shape}")
    _check_tensor(ea, "edge features 'edge_attr'", ei.device)
    if ea.is_floating_point() and not bool(torch.isfinite(ea).all()):
        raise GraphInputError("edge features 'edge_attr' must be finite, but contain NaN or "
                              "infinite values")
    if edge_dim is not None and needs_edge_attr and (ea.dim() != 2 or ea.size(1) != edge_dim):
        raise GraphInputError(f"edge_attr must have shape [num_edges, {edge_dim}] for this "
                              f"model, got {list(ea.shape)}")


def _to_float(t: Tensor, dtype: torch.dtype, name: str) -> Tensor:
    if not t.is_floating_point() or t.dtype == dtype:
        return t
    out = t.to(dtype)
    if not bool(torch.isfinite(out).all()):
        big = float(t.abs().max())
        raise GraphInputError(f"{name} ({t.dtype}) do not fit this model's {dtype}: values up "
                              f"to {big:.3g} exceed its largest number "
                              f"{torch.finfo(dtype).max:.3g}; scale or normalise them")
    return out


def model_inputs(data: Any, dtype: Optional[torch.dtype] = None,
                 in_channels: Optional[int] = None, edge_dim: Optional[int] = None,
                 needs_edge_attr: bool = False, check: bool = True
                 ) -> Tuple[Tensor, Tensor, Tensor, Optional[Tensor]]:
    r"""Check :obj:`data` (:func:`check_graph`, unless :obj:`check` is false) and return the
    tensors a model runs on, converted once: :obj:`(x, edge_index, batch, edge_attr)` with
    :obj:`edge_index` and :obj:`batch` as :obj:`torch.long` (:obj:`batch` all zeros when
    absent) and floating point :obj:`x` / :obj:`edge_attr` in :obj:`dtype` (features that do
    not fit :obj:`dtype` are refused either way). :obj:`data` itself is not modified.

    Args:
        data (torch_geometric.data.Data or Batch): the graph(s).
        dtype (torch.dtype, optional): floating dtype of the model; :obj:`None` keeps the
            features' dtype. (default: :obj:`None`)
        in_channels, edge_dim, needs_edge_attr: as for :func:`check_graph`.
        check (bool, optional): run :func:`check_graph` first; :obj:`False` for graphs
            checked already (e.g. the batches of a checked dataset). (default: :obj:`True`)
    """
    if check:
        check_graph(data, in_channels, edge_dim, needs_edge_attr)
    else:  # not checked again, but never read values that do not exist
        for name in ("x", "edge_index"):
            t = getattr(data, name, None)
            if isinstance(t, Tensor):
                _check_tensor(t, name)
    x, edge_index = data.x, data.edge_index
    if edge_index.dtype != torch.long:
        edge_index = edge_index.long()
    batch = getattr(data, "batch", None)
    batch = x.new_zeros(x.size(0), dtype=torch.long) if batch is None else batch.long()
    edge_attr = getattr(data, "edge_attr", None)
    if dtype is not None:
        x = _to_float(x, dtype, "node features 'x'")
        if edge_attr is not None:
            edge_attr = _to_float(edge_attr, dtype, "edge features 'edge_attr'")
    return x, edge_index, batch, edge_attr


def check_finite_output(model: nn.Module, x: Tensor, *outputs: Optional[Tensor]) -> None:
    r"""Raise :class:`gsat.errors.GraphInputError` if a model output (attention logits,
    graph logits) is NaN or infinite although the input :obj:`x` is finite and every weight of
    :obj:`model` is finite: the features are too large for the model's dtype (e.g. ``3e38``
    in ``float32`` overflows in the first layer). With non-finite weights nothing is raised
    here; the training loop reports the diverged loss.
    """
    if all(o is None or bool(torch.isfinite(o).all()) for o in outputs):
        return
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return
    big = float(x.abs().max()) if x.is_floating_point() and x.numel() else float("nan")
    raise GraphInputError(f"the model's attention or logits became NaN or infinite on finite "
                          f"input: node features as large as |x| = {big:.3g} overflow "
                          f"{x.dtype} inside the model; scale or normalise the features "
                          "(e.g. to unit variance)")


def check_graphs(graphs: Sequence[Data], source: str = "dataset",
                 num_features: Optional[int] = None) -> None:
    r"""Check every graph with :func:`check_graph` (structure, index range, finite
    features), that its feature width is :obj:`num_features` (if given), that it has a label
    :obj:`y`, and that :obj:`edge_label` (if present) has one entry per edge.

    Raises:
        gsat.errors.GraphInputError: naming :obj:`source`, the graph and the problem.
    """
    for i, g in enumerate(graphs):
        try:
            check_graph(g)
            if num_features is not None and g.x.size(1) != num_features:
                raise GraphInputError(f"x has {g.x.size(1)} features, the dataset declares "
                                      f"{num_features}")
            if getattr(g, "y", None) is None:
                raise GraphInputError("the graph has no label 'y'")
            lab = getattr(g, "edge_label", None)
            if lab is not None and lab.numel() != g.edge_index.size(1):
                raise GraphInputError(f"edge_label must have one entry per edge "
                                      f"({g.edge_index.size(1)}), got {lab.numel()}")
        except GraphInputError as exc:
            raise GraphInputError(f"{source}: graph {i}: {exc}") from None


def check_dataset(ds: Any, splits: Iterable[str] = ("train", "valid", "test", "interp_test")
                  ) -> Any:
    """Check all graphs of all splits of :obj:`ds` (a :class:`gsat.data.base.GraphDataset`) with
    :func:`check_graphs`; returns :obj:`ds`."""
    for split in splits:
        graphs = getattr(ds, split)
        if graphs:
            check_graphs(graphs, f"{ds.name} {split} split", ds.num_features)
    return ds


#: the largest seed NumPy's and torch's generators both accept
MAX_SEED = 2 ** 32 - 1


def check_seeds(seeds: Sequence[Any]) -> List[int]:
    r"""Return :obj:`seeds` as a list of distinct whole numbers in :math:`[0, 2^{32} - 1]`
    (what every random generator a run seeds accepts); raise :class:`~gsat.errors.ConfigError`
    naming the first bad one, or a seed given twice (it would be trained twice and counted
    twice in the mean and std)."""
    from gsat.errors import ConfigError

    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ConfigError(f"seeds must be a non-empty list of whole numbers, got {seeds!r}")
    seen = set()
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise ConfigError(f"a seed must be a whole number in [0, {MAX_SEED}], got {s!r}")
        if s in seen:
            raise ConfigError(f"seed {s} is given twice; each seed is one run")
        seen.add(s)
    return list(seeds)


def check_device(device: Any) -> str:
    r"""Return :obj:`device` if it names a device this machine can train on: ``cpu``,
    ``cuda`` or ``cuda:N`` (lower case, as torch spells them) with CUDA available and
    :math:`N` below the device count; raise :class:`~gsat.errors.ConfigError` otherwise."""
    import re

    from gsat.errors import ConfigError

    text = str(device) if isinstance(device, (str, torch.device)) else None
    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", text or "")
    if match is None or (match.group(1) == "cpu" and match.group(2) is not None):
        raise ConfigError(f"unknown device {device!r}; choose one of: cpu, cuda, cuda:N")
    if match.group(1) == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={text!r} was asked for but CUDA is not available "
                              "(torch.cuda.is_available() is False); use cpu or a CUDA build "
                              "of torch")
        index = int(match.group(2) or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {text!r}: this machine has {torch.cuda.device_count()} "
                              "CUDA device(s)")
    return text
