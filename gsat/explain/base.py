r"""What every explainer shares: the :class:`EdgeExplainer` interface, the
:class:`ExplainerEntry` by which its module declares it to the registry
(:mod:`gsat.explain.registry`), the adapter to :mod:`torch_geometric.explain`
(:class:`BackboneAdapter`, :class:`PyGEdgeExplainer`) and the graph-by-graph helpers.

Every explainer produces one score per edge of every explained graph, so that
:func:`gsat.metrics.interpretation.score_explanations` scores every method in the same way.
Every post-hoc explainer explains the model's predicted class, and on an undirected graph the
scores of :math:`(u, v)` and :math:`(v, u)` are replaced by their mean (:func:`symmetric_scores`),
as GSAT's attention is: raw masks of the two directions can differ widely, and the ground truth
is one label per undirected edge.

Every explainer leaves the explained model as it found it: train/eval mode, parameter
:obj:`requires_grad` flags and gradients, and the explain state of every
:class:`~torch_geometric.nn.conv.MessagePassing` layer: explainers work on a copy
(:func:`explained_copy`).
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm import ExplainerAlgorithm
from torch_geometric.explain.algorithm.utils import clear_masks
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import is_undirected
from tqdm.auto import tqdm

from gsat.core.functional import symmetrize_edge_att
from gsat.core.validation import check_graph
from gsat.nn.utils import batch_vector
from gsat.errors import ConfigError, GraphInputError

__all__ = ["BackboneAdapter", "EdgeExplainer", "ExplainerEntry", "PyGEdgeExplainer",
           "model_config_for", "explained_copy", "has_masks", "symmetric_scores", "edge_scores",
           "graphs_one_by_one", "adapter_kwargs", "settings_grid"]


class BackboneAdapter(nn.Module):
    r"""The call convention of :mod:`torch_geometric.explain`,
    :obj:`model(x, edge_index, batch=..., edge_attr=...)` returning graph logits, around a
    classifier with a :obj:`backbone` (e.g. :class:`~gsat.core.model.ERM`) or a bare backbone.

    Args:
        model (torch.nn.Module): :class:`~gsat.core.model.ERM` (its :obj:`backbone` is called) or
            any backbone called as :obj:`backbone(x, edge_index, batch, edge_attr)`.
        return_type (str, optional): :obj:`"raw"` returns logits; :obj:`"probs"` returns
            :math:`\sigma(\text{logit})` for one output (binary) or the softmax otherwise.
            (default: :obj:`"raw"`)
    """

    def __init__(self, model: nn.Module, return_type: str = "raw"):
        super().__init__()
        if return_type not in ("raw", "probs"):
            raise ValueError(f"return_type must be 'raw' or 'probs', got {return_type!r}")
        self.backbone = getattr(model, "backbone", model)
        self.return_type = return_type
        self.training = self.backbone.training  # Explainer restores the adapter's mode

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        logits = self.backbone(x, edge_index, batch, edge_attr)
        if self.return_type == "raw":
            return logits
        return logits.sigmoid() if logits.size(-1) == 1 else logits.softmax(-1)


def model_config_for(task: str, return_type: str = "raw") -> Dict[str, str]:
    r"""The :class:`~torch_geometric.explain.config.ModelConfig` of a graph classifier for a
    :attr:`gsat.data.base.GraphDataset.task`.

    Raises:
        gsat.errors.ConfigError: for :obj:`"multilabel"`, which PyG's explainers do not
            support.
    """
    modes = {"binary": "binary_classification", "multiclass": "multiclass_classification"}
    if task not in modes:
        raise ConfigError(f"post-hoc explainers support binary and multiclass tasks, not "
                          f"{task!r}")
    return {"mode": modes[task], "task_level": "graph", "return_type": return_type}


# --------------------------------------------------------------------------- model state


def explained_copy(model: nn.Module) -> nn.Module:
    r"""The copy of :obj:`model` an explainer works on: a :func:`copy.deepcopy` in eval mode,
    with frozen parameters and no edge masks. Explainers put masks on the message-passing
    layers, replace their :obj:`explain_message`, add attributes (GraphMask) and switch
    modes; doing so on a copy leaves the caller's model exactly as it was."""
    work = copy.deepcopy(model)
    clear_masks(work)
    for p in work.parameters():
        p.requires_grad_(False)
        p.grad = None
    return work.eval()


def has_masks(model: nn.Module) -> bool:
    """Whether a message-passing layer of :obj:`model` has an explain mask set (PyG's
    :func:`~torch_geometric.explain.algorithm.utils.set_masks`)."""
    return any(m.explain is True or m._edge_mask is not None for m in model.modules()
               if isinstance(m, MessagePassing))


def symmetric_scores(scores: Tensor, edge_index: Tensor,
                     num_nodes: Optional[int] = None) -> Tensor:
    r"""Edge scores of one graph with :math:`(u, v)` and :math:`(v, u)` given their mean
    (:func:`gsat.core.functional.symmetrize_edge_att`) when the graph is undirected, as
    :class:`~gsat.GSAT` does with its attention; scores of a directed graph are returned as
    they are.

    Args:
        scores (torch.Tensor): one score per edge, shape :obj:`[E]`.
        edge_index (torch.Tensor): the graph's edges, shape :obj:`[2, E]`.
        num_nodes (int, optional): number of nodes. (default: :obj:`edge_index.max() + 1`)
    """
    if edge_index.numel() == 0 or not is_undirected(edge_index, num_nodes=num_nodes):
        return scores
    return symmetrize_edge_att(scores, edge_index, num_nodes)


def edge_scores(fn: Callable[[Data], Tensor], g: Data, symmetrize: bool = True) -> Tensor:
    """:obj:`fn(g)` flattened to float64 on the CPU (float32 would tie scores that differ
    below its resolution, e.g. GraphMask's), symmetric on an undirected graph if
    :obj:`symmetrize`."""
    if g.edge_index.size(1) == 0:
        return torch.zeros(0, dtype=torch.float64)
    s = fn(g).detach().reshape(-1).double()
    if symmetrize:
        s = symmetric_scores(s, g.edge_index, g.num_nodes)
    return s.cpu()


def graphs_one_by_one(graphs: Sequence[Data], fn: Callable[[Data], Tensor], desc: str,
                      device: torch.device | str, progress: bool,
                      symmetrize: bool = True, model: Optional[nn.Module] = None
                      ) -> List[Tensor]:
    """:obj:`fn(graph)` for every graph on :obj:`device` (zero scores for a graph without
    edges), flattened to float on the CPU and, if :obj:`symmetrize`, symmetric on undirected
    graphs (:func:`symmetric_scores`), with a progress bar. Each graph is checked first
    (:obj:`model.check_input` where the model has one, else
    :func:`gsat.core.validation.check_graph`), so a malformed graph raises a
    :class:`~gsat.errors.GraphInputError` naming it, whatever the explainer."""
    check = getattr(model, "check_input", None)
    out = []
    for i, g in enumerate(tqdm(graphs, desc=desc, disable=not progress, leave=False,
                               dynamic_ncols=True)):
        try:
            check_graph(g)  # before it is moved: a graph on the meta device cannot be
            g = g.to(device)
            if check is not None:
                check(g)  # the model's own widths, on its device
        except GraphInputError as exc:
            raise GraphInputError(f"graph {i}: {exc}") from None
        out.append(edge_scores(fn, g, symmetrize))
    return out


def adapter_kwargs(data: Data) -> Dict[str, Tensor]:
    """Keyword arguments of :class:`BackboneAdapter` for one graph (order matters for
    Captum, which passes them positionally)."""
    kw = {"batch": batch_vector(None, data.num_nodes, data.edge_index)}
    if getattr(data, "edge_attr", None) is not None:
        kw["edge_attr"] = data.edge_attr
    return kw


# --------------------------------------------------------------------------- interface


class EdgeExplainer:
    r"""One score per edge for every graph: the interface shared by GSAT and the baselines.

    Subclasses implement :meth:`explain_graph` (or override :meth:`explain`); explainers
    that learn from the training graphs first (PGExplainer) implement :meth:`fit`.

    Attributes:
        name (str): registry name.
        model_kind (str): which trained model it explains: :obj:`"gsat"` or :obj:`"erm"`.
        settings (dict): the hyper-parameters used (recorded in benchmark results).
        symmetrize (bool): post-hoc scores of :math:`(u, v)` and :math:`(v, u)` on an
            undirected graph are replaced by their mean (:func:`symmetric_scores`); set by
            :func:`~gsat.explain.registry.make_explainer`. (default: :obj:`True`)
    """

    name: str = ""
    model_kind: str = "erm"
    needs_fit: bool = False
    #: raised when the way scores are computed changes, so the benchmark does not reuse
    #: records made the old way (part of its piece key when above 1)
    score_version: int = 1
    symmetrize: bool = True

    def __init__(self, **settings: Any):
        self.settings: Dict[str, Any] = settings

    def fit(self, model: nn.Module, graphs: Sequence[Data], task: str,
            device: torch.device | str = "cpu", progress: bool = False) -> None:
        """Learn from :obj:`graphs` (the training split); a no-op for most explainers."""

    def explain_graph(self, model: nn.Module, data: Data, task: str) -> Tensor:
        """Edge scores of one graph, shape :obj:`[E]`."""
        raise NotImplementedError

    def fitted_state(self) -> Optional[Dict[str, Any]]:
        """What :meth:`fit` learned, as tensors and numbers (for :func:`torch.save`), or
        :obj:`None` when there is nothing to save; :meth:`load_fitted` puts it back."""
        return None

    def load_fitted(self, model: nn.Module, task: str, state: Dict[str, Any],
                    device: torch.device | str = "cpu") -> None:
        """Make this explainer, with its settings, the one :meth:`fitted_state` saved from
        an explainer fitted on :obj:`model`, without fitting it again."""
        raise NotImplementedError(f"{self.name or type(self).__name__} has no fitted state "
                                  "to load")

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        r"""Edge scores of every graph in :obj:`graphs` (one tensor of shape :obj:`[E_g]` per
        graph, on the CPU), with a progress bar. The explainer works on
        :func:`explained_copy` of :obj:`model`, which is left untouched."""
        work = explained_copy(model)
        return graphs_one_by_one(graphs, lambda g: self.explain_graph(work, g, task),
                                 f"explain {self.name}", device, progress, self.symmetrize,
                                 model)


class PyGEdgeExplainer(EdgeExplainer):
    r"""A :class:`torch_geometric.explain.Explainer` with :obj:`edge_mask_type="object"`,
    no node mask and :obj:`explanation_type="model"` (the model's own prediction is
    explained), run graph by graph.

    Args:
        name (str): registry name.
        build (callable): :obj:`build(model, **settings)` returns the
            :class:`~torch_geometric.explain.algorithm.ExplainerAlgorithm`.
        return_type (str, optional): what the adapter returns (Captum needs
            :obj:`"probs"` for binary tasks). (default: :obj:`"raw"`)
        **settings: hyper-parameters handed to :obj:`build`.

    The explained class is the model's prediction: PyG's :class:`Explainer` passes it as the
    target, and for a binary task :class:`~torch_geometric.explain.algorithm.CaptumExplainer`
    turns the probability :math:`p` into the two outputs :math:`[1 - p, p]`, so Captum's
    attributions (Integrated Gradients, Saliency) are those of the predicted class for both
    classes: an edge that pushes toward the other class gets a negative score.
    """

    def __init__(self, name: str, build: Callable[..., ExplainerAlgorithm],
                 return_type: str = "raw", **settings: Any):
        super().__init__(**settings)
        self.name, self.build, self.return_type = name, build, return_type

    def _explainer(self, model: nn.Module, task: str,
                   explanation_type: str = "model") -> Explainer:
        adapter = BackboneAdapter(model, self.return_type)
        return Explainer(model=adapter, algorithm=self.build(adapter, **self.settings),
                         explanation_type=explanation_type,
                         model_config=model_config_for(task, self.return_type),
                         edge_mask_type="object", node_mask_type=None)

    def explain(self, model: nn.Module, graphs: Sequence[Data], task: str,
                device: torch.device | str = "cpu", progress: bool = False) -> List[Tensor]:
        explainer = self._explainer(explained_copy(model), task)
        return graphs_one_by_one(graphs, lambda g: self.explain_with(explainer, g),
                                 f"explain {self.name}", device, progress, self.symmetrize,
                                 model)

    def explain_graph(self, model: nn.Module, data: Data, task: str) -> Tensor:
        explainer = self._explainer(explained_copy(model), task)
        return edge_scores(lambda g: self.explain_with(explainer, g), data, self.symmetrize)

    def explain_with(self, explainer: Explainer, data: Data) -> Tensor:
        """Edge scores of one graph from a :class:`~torch_geometric.explain.Explainer` made
        by this object (on an :func:`explained_copy` of the model)."""
        return explainer(data.x, data.edge_index, **adapter_kwargs(data)).edge_mask



# --------------------------------------------------------------------------- registry entry


@dataclass(frozen=True)
class ExplainerEntry:
    r"""An explainer as its module declares it (its :obj:`ENTRY`) to the registry
    (:mod:`gsat.explain.registry`), which :func:`~gsat.explain.registry.make_explainer`, the
    benchmark and ``gsat benchmark --explainers`` read.

    Args:
        name (str): registry name.
        factory (callable): :obj:`factory(**settings)` returns a new :class:`EdgeExplainer`;
            its keyword defaults are the explainer's default settings (:attr:`defaults`).
        help (str): one line saying what the explainer does.
        tuning_grid (sequence of dict, optional): the settings tried when tuning on the
            validation graphs, at most :data:`~gsat.explain.registry.TUNING_BUDGET`, among them
            the default setting; empty for an explainer that is not tuned. (default: :obj:`()`)
        optimised (bool, optional): it optimises for a number of epochs, its :obj:`epochs`
            setting, which ``--explainer-epochs`` overrides. (default: :obj:`False`)

    Calling the entry calls :obj:`factory`, so an entry is a factory of
    :data:`~gsat.explain.registry.EXPLAINERS` as a bare function is.
    """

    name: str
    factory: Callable[..., EdgeExplainer]
    help: str
    tuning_grid: Sequence[Dict[str, Any]] = ()
    optimised: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tuning_grid", tuple(dict(g) for g in self.tuning_grid))

    @property
    def defaults(self) -> Dict[str, Any]:
        """The default settings: the keyword defaults of :obj:`factory`."""
        params = inspect.signature(self.factory).parameters.values()
        return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}

    def __call__(self, **settings: Any) -> EdgeExplainer:
        return self.factory(**settings)


def settings_grid(**axes: Sequence[Any]) -> List[Dict[str, Any]]:
    """Every combination of the values of :obj:`axes` (a tuning grid), the last axis varying
    fastest: :obj:`settings_grid(a=[1, 2], b=[3, 4])` is :obj:`[{a: 1, b: 3}, {a: 1, b: 4},
    {a: 2, b: 3}, {a: 2, b: 4}]`."""
    out: List[Dict[str, Any]] = [{}]
    for k in list(axes):
        out = [dict(d, **{k: v}) for d in out for v in axes[k]]
    return out
