r"""How attention becomes colour, which edges are highlighted, and what a picture's title says.

GSAT's attention within one graph often spans a narrow band (e.g. 0.64-0.95 on a molecule,
0.4-0.8 on the base of a synthetic graph): on an absolute 0-1 scale every edge then gets
nearly the same colour. The pictures therefore colour by a per-graph scale by default:

* ``"relative"``: the graph's lowest attention is the palest colour, its highest the
  darkest (min-max within the graph);
* ``"rank"``: the colour follows the edge's rank within the graph (ties share the mean rank),
  so one outlier cannot squeeze the others into one colour;
* ``"absolute"``: attention itself, 0 palest and 1 darkest, comparable across graphs.
"""
from __future__ import annotations

from typing import Any, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np

#: colour scales of the pictures (see the module docstring)
ColorScale = Literal["relative", "rank", "absolute"]
SCALES: Tuple[str, ...] = ("relative", "rank", "absolute")
#: the default scale of every picture
DEFAULT_SCALE: ColorScale = "relative"
#: matplotlib colour map of attention (pale yellow -> dark red, so that a blue ground-truth
#: marking stays distinct from every attention colour)
CMAP_NAME = "YlOrRd"
#: colour of ground-truth marks (outlines of motif nodes and edges)
GROUND_TRUTH_COLOUR = "#1f5fd6"


def check_scale(scale: str) -> ColorScale:
    r"""Return :obj:`scale` if it is one of :data:`SCALES`, else raise :class:`ValueError`
    naming the choices."""
    if scale not in SCALES:
        raise ValueError(f"unknown colour scale {scale!r}; choose one of: {', '.join(SCALES)}")
    return scale  # type: ignore[return-value]


def scaled_attention(att: Union[Sequence[float], np.ndarray, Any],
                     scale: ColorScale = DEFAULT_SCALE) -> np.ndarray:
    r"""Attention mapped to :math:`[0, 1]` for colouring, by :obj:`scale`:

    .. math::
        \text{relative: } \frac{a - \min a}{\max a - \min a}, \qquad
        \text{rank: } \frac{\operatorname{rank}(a) - 1}{n - 1}, \qquad
        \text{absolute: } \operatorname{clip}(a, 0, 1).

    A graph whose attention is all equal maps to 0.5 on the relative and rank scales.

    Args:
        att (array-like): attention values of one graph, shape :obj:`[n]`.
        scale (str, optional): :obj:`"relative"`, :obj:`"rank"` or :obj:`"absolute"`.
            (default: :obj:`"relative"`)
    """
    check_scale(scale)
    a = _array(att)
    if a.size == 0:
        return a
    if scale == "absolute":
        return np.clip(a, 0.0, 1.0)
    if scale == "relative":
        lo, hi = float(a.min()), float(a.max())
        return np.full_like(a, 0.5) if hi - lo <= 1e-12 else (a - lo) / (hi - lo)
    if a.size == 1 or float(a.max() - a.min()) <= 1e-12:
        return np.full_like(a, 0.5)
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.arange(a.size, dtype=np.float64)
    for value in np.unique(a):  # ties share their mean rank
        tie = a == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks / (a.size - 1)


def scale_bounds(att: Union[Sequence[float], np.ndarray, Any],
                 scale: ColorScale = DEFAULT_SCALE) -> Tuple[float, float]:
    r"""The attention values at the two ends of the colour bar of :obj:`scale`: the graph's
    lowest and highest attention for the relative and rank scales, 0 and 1 for the absolute."""
    a = _array(att)
    if scale == "absolute" or a.size == 0:
        return 0.0, 1.0
    return float(a.min()), float(a.max())


def top_k_mask(att: Union[Sequence[float], np.ndarray, Any], k: Optional[int] = None,
               threshold: Optional[float] = None) -> np.ndarray:
    r"""Which values to highlight: the :obj:`k` highest (ties broken by position, the first
    wins) and/or every value of at least :obj:`threshold`; with neither, all of them.

    Args:
        att (array-like): attention values, shape :obj:`[n]`.
        k (int, optional): highlight the :obj:`k` highest. (default: :obj:`None`)
        threshold (float, optional): highlight values :math:`\geq` :obj:`threshold`.
            (default: :obj:`None`)

    Returns:
        numpy.ndarray: boolean mask, shape :obj:`[n]`.
    """
    a = _array(att)
    if k is None and threshold is None:
        return np.ones(a.size, dtype=bool)
    mask = np.zeros(a.size, dtype=bool)
    if k is not None:
        if k < 0:
            raise ValueError(f"top-k must be 0 or more, got {k}")
        order = np.argsort(-a, kind="stable")
        mask[order[:k]] = True
    if threshold is not None:
        mask |= a >= threshold
    return mask


def attention_colours(att: Union[Sequence[float], np.ndarray, Any],
                      scale: ColorScale = DEFAULT_SCALE) -> List[Tuple[float, float, float]]:
    r"""An RGB colour (components in :math:`[0, 1]`) per attention value, on :obj:`scale`,
    from the colour map :data:`CMAP_NAME` (its palest 12 % left out so that the lowest value
    stays visible on white)."""
    import matplotlib

    cmap = matplotlib.colormaps[CMAP_NAME]
    return [tuple(float(c) for c in cmap(0.12 + 0.88 * float(v))[:3])
            for v in scaled_attention(att, scale)]


def colour_at(fraction: float) -> Tuple[float, float, float]:
    r"""The colour of a point :obj:`fraction` in :math:`[0, 1]` along the colour bar."""
    import matplotlib

    cmap = matplotlib.colormaps[CMAP_NAME]
    return tuple(float(c) for c in cmap(0.12 + 0.88 * float(fraction))[:3])


def class_name(k: int, class_names: Optional[Sequence[str]] = None) -> str:
    r"""The name of class :obj:`k`, or ``class k`` without names."""
    if class_names is not None and 0 <= int(k) < len(class_names):
        return str(class_names[int(k)])
    return f"class {int(k)}"


def prediction_title(prediction: Any, probability: Any, task: str,
                     class_names: Optional[Sequence[str]] = None, label: Any = None,
                     graph_id: Optional[str] = None) -> str:
    r"""The title of an explained graph: what the model predicts, said so that it cannot be
    misread.

    * binary: ``P(active) = 0.01`` (the probability of the positive class, named by
      :obj:`class_names[1]`, else ``class 1``);
    * multi-class: ``predicted house, P = 0.93``;
    * multi-label: ``P(l0) = 0.10, P(l1) = 0.85``;
    * regression: ``predicted 1.23``;

    followed by ``; true: inactive`` (the true label by name) when :obj:`label` is known, and
    preceded by ``<graph_id>: ``.

    Args:
        prediction: the predicted class (binary, multi-class), 0/1 per label (multi-label)
            or value(s) (regression).
        probability: the probability of the positive class (binary, as
            :func:`gsat.core.task.prediction_record` gives it), of the predicted class
            (multi-class), per label (multi-label) or :obj:`None` (regression).
        task (str): :obj:`"binary"`, :obj:`"multiclass"`, :obj:`"multilabel"` or
            :obj:`"regression"`.
        class_names (list of str, optional): a name per class (per label for multi-label).
        label (optional): the true class (value) when known.
        graph_id (str, optional): prefix.
    """
    task = str(task)
    if task == "binary":
        text = f"P({class_name(1, class_names)}) = {float(probability):.2f}"
    elif task == "multiclass":
        text = f"predicted {class_name(int(prediction), class_names)}, P = {float(probability):.2f}"
    elif task == "multilabel":
        probs = list(probability)
        text = ", ".join(f"P({class_name(i, class_names)}) = {float(p):.2f}"
                         for i, p in enumerate(probs))
    else:
        values = prediction if isinstance(prediction, (list, tuple)) else [prediction]
        text = "predicted " + ", ".join(f"{float(v):.3g}" for v in values)
    if label is not None:
        text += "; true: " + _label_text(label, task, class_names)
    return f"{graph_id}: {text}" if graph_id else text


def _label_text(label: Any, task: str, class_names: Optional[Sequence[str]]) -> str:
    values = np.asarray(label, dtype=np.float64).reshape(-1)
    if task == "regression":
        return ", ".join(f"{v:.3g}" for v in values)
    if task == "multilabel":
        on = [class_name(i, class_names) for i, v in enumerate(values) if v == 1]
        return ", ".join(on) if on else "none"
    if values.size == 0 or np.isnan(values[0]):
        return "unknown"
    return class_name(int(values[0]), class_names)


def _array(att: Any) -> np.ndarray:
    if hasattr(att, "detach"):
        att = att.detach().cpu().double().numpy()
    return np.asarray(att, dtype=np.float64).reshape(-1)
