r"""The explainers by name: the one registry that :func:`make_explainer`, the benchmark
(:class:`~gsat.benchmark.spec.BenchmarkSpec`) and ``gsat benchmark --explainers`` read.

Every explainer module declares its :class:`~gsat.explain.base.ExplainerEntry` as
:obj:`ENTRY`: its name, factory (whose keyword defaults are the default settings), one line
of help, tuning grid and whether it optimises for a number of epochs. The built-in ones are
GSAT's attention (:mod:`gsat.explain.gsat`), GNNExplainer (:mod:`gsat.explain.gnnexplainer`),
GraphMask (:mod:`gsat.explain.graphmask`), Integrated Gradients
(:mod:`gsat.explain.integrated_gradients`), Saliency (:mod:`gsat.explain.saliency`) and
PGExplainer (:mod:`gsat.explain.pgexplainer`); :func:`register_explainer` adds another.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Sequence

from gsat.errors import ConfigError, UnknownNameError
from gsat.explain import gnnexplainer, graphmask, integrated_gradients, pgexplainer, saliency
from gsat.explain import gsat as gsat_attention
from gsat.explain.base import EdgeExplainer, ExplainerEntry

__all__ = ["EXPLAINERS", "TUNING_BUDGET", "TUNING_GRIDS", "default_explainers",
           "explainer_entry", "explainer_names", "make_explainer", "optimised_names",
           "register_explainer", "tuning_grid"]

#: the built-in explainers, in the order of :func:`explainer_names`
_BUILT_IN = (gsat_attention.ENTRY, gnnexplainer.ENTRY, graphmask.ENTRY,
             integrated_gradients.ENTRY, saliency.ENTRY, pgexplainer.ENTRY)

#: name -> factory of a new explainer, :obj:`factory(**settings)`: an
#: :class:`~gsat.explain.base.ExplainerEntry` (called, it calls its own factory) or any
#: callable, registered by :func:`register_explainer`
EXPLAINERS: Dict[str, Callable[..., EdgeExplainer]] = {e.name: e for e in _BUILT_IN}

#: The tuning budget: at most 8 settings per explainer, each a full explanation of the same
#: validation graphs, searched over the knobs that matter for that method; every grid holds
#: the explainer's default setting, so tuning can only pick it or something better on the
#: validation graphs. GSAT is not tuned (it is trained with the paper's settings) and
#: Saliency has a single knob.
TUNING_BUDGET = 8

#: name -> tuning grid of every built-in explainer that is tuned (read-only; each grid is
#: declared by the explainer's :class:`~gsat.explain.base.ExplainerEntry`, and
#: :func:`tuning_grid` also reads those of registered explainers)
TUNING_GRIDS: Mapping[str, Sequence[Dict[str, Any]]] = MappingProxyType(
    {e.name: e.tuning_grid for e in _BUILT_IN if e.tuning_grid})


def register_explainer(entry: ExplainerEntry) -> None:
    """Make the explainer :obj:`entry` available under :obj:`entry.name` to
    :func:`make_explainer`, the benchmark and the command line (it replaces one of the same
    name)."""
    if not isinstance(entry, ExplainerEntry):
        raise TypeError(f"register_explainer takes an ExplainerEntry, got "
                        f"{type(entry).__name__}")
    EXPLAINERS[entry.name] = entry


def explainer_names() -> List[str]:
    """The registered explainers' names, the built-in ones first."""
    return list(EXPLAINERS)


def default_explainers() -> List[str]:
    """The explainers a benchmark runs when none are named (``gsat benchmark`` without
    ``--explainers``, :class:`~gsat.benchmark.spec.BenchmarkSpec`): every registered one,
    GSAT and the post-hoc explainers."""
    return explainer_names()


def explainer_entry(name: str) -> ExplainerEntry:
    r"""The registry entry of :obj:`name`; a bare factory registered in :data:`EXPLAINERS`
    gets an entry without help, tuning grid or epochs.

    Raises:
        gsat.errors.UnknownNameError: unknown :obj:`name`; the message lists the registered
            names.
    """
    if name not in EXPLAINERS:
        raise UnknownNameError("explainer", name, EXPLAINERS)
    factory = EXPLAINERS[name]
    return factory if isinstance(factory, ExplainerEntry) else ExplainerEntry(name, factory, "")


def optimised_names() -> List[str]:
    """The explainers that optimise for a number of epochs (their :obj:`epochs` setting),
    which ``--explainer-epochs`` overrides: GNNExplainer, GraphMask and PGExplainer."""
    return [n for n in EXPLAINERS if explainer_entry(n).optimised]


def tuning_grid(name: str) -> List[Dict[str, Any]]:
    r"""The settings tried for :obj:`name` when tuning (its entry's grid), at most
    :data:`TUNING_BUDGET`; :obj:`[{}]` (the defaults) for an explainer without knobs.

    Raises:
        gsat.errors.UnknownNameError: unknown :obj:`name`.
        gsat.errors.ConfigError: a grid over the budget.
    """
    grid = explainer_entry(name).tuning_grid or [{}]
    if len(grid) > TUNING_BUDGET:
        raise ConfigError(f"tuning grid of {name} has {len(grid)} settings, more than the "
                          f"budget of {TUNING_BUDGET}")
    return [dict(g) for g in grid]


def make_explainer(name: str, symmetrize: bool = True, **settings: Any) -> EdgeExplainer:
    r"""A new explainer from the registry :data:`EXPLAINERS`.

    Args:
        name (str): a registered name (:func:`explainer_names`): :obj:`gsat, gnnexplainer,
            graphmask, ig, saliency, pgexplainer` and any registered since.
        symmetrize (bool, optional): average the scores of the two directions of every edge
            of an undirected graph (post-hoc explainers; GSAT's attention is symmetric by
            construction); :obj:`False` keeps the raw per-direction scores.
            (default: :obj:`True`)
        **settings: overrides of its default hyper-parameters (e.g. :obj:`epochs=2`).

    Raises:
        gsat.errors.UnknownNameError: unknown :obj:`name`.
        gsat.errors.ConfigError: a setting the explainer does not have.
    """
    factory = explainer_entry(name).factory
    try:
        exp = factory(**settings)
    except TypeError as exc:
        raise ConfigError(f"explainer {name}: {exc}") from exc
    exp.name = name
    exp.symmetrize = symmetrize
    return exp
