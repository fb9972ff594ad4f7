r"""Model selection: which epoch of a run is reported.

The protocol of `Miao, Liu & Li (ICML 2022) <https://arxiv.org/abs/2201.12987>`_: among the
epochs :math:`e >` :obj:`min_epoch` whose prior :math:`r` has reached its final value, the
one with the best validation metric (the highest accuracy or ROC AUC, the lowest RMSE or
MAE of a regression); ties go to the lower validation prediction loss. When
no epoch qualifies (a run too short for the schedule), the best epoch over all epochs is
taken and the run record says :obj:`"selection": "all_epochs"`.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Dict, Mapping, Optional, Tuple

log = logging.getLogger(__name__)

#: tolerance of "r has reached final_r"
R_TOLERANCE = 1e-9


class Selector:
    r"""The rule that picks the reported epoch of a run.

    Args:
        min_epoch (int, optional): only epochs :math:`e >` :obj:`min_epoch` (0-based)
            qualify. (default: :obj:`10`)
        final_r (float, optional): only epochs whose :math:`r` equals this value qualify;
            :obj:`None` (or an epoch record without :math:`r`, e.g. ERM) puts no condition
            on :math:`r`. (default: :obj:`None`)
        higher_is_better (bool, optional): a larger validation metric is better (accuracy,
            ROC AUC); :obj:`False` for an error such as RMSE. (default: :obj:`True`)
    """

    def __init__(self, min_epoch: int = 10, final_r: Optional[float] = None,
                 higher_is_better: bool = True):
        self.min_epoch = int(min_epoch)
        self.final_r = final_r
        self.higher_is_better = bool(higher_is_better)

    def qualifies(self, epoch: int, r: Optional[float]) -> bool:
        """Can :obj:`epoch` (with prior :obj:`r`) be selected under the paper's protocol?"""
        if epoch <= self.min_epoch:
            return False
        return r is None or self.final_r is None or abs(r - self.final_r) < R_TOLERANCE

    @staticmethod
    def better(a: Mapping[str, float], b: Optional[Mapping[str, float]],
               higher_is_better: bool = True) -> bool:
        r"""Is epoch record :obj:`a` better than :obj:`b`: higher :obj:`valid_metric` (lower
        where :obj:`higher_is_better` is false; NaN is the worst value), then lower
        :obj:`valid_loss`? Always true when :obj:`b` is :obj:`None`."""
        if b is None:
            return True
        worst = -math.inf if higher_is_better else math.inf
        va, vb = a["valid_metric"], b["valid_metric"]
        va = worst if math.isnan(va) else va
        vb = worst if math.isnan(vb) else vb
        if va != vb:
            return va > vb if higher_is_better else va < vb
        return a["valid_loss"] < b["valid_loss"]


class Selection:
    r"""The best epoch records seen so far under a :class:`Selector`: :attr:`best_qual`
    among qualifying epochs and :attr:`best_any` among all epochs (each a record with the
    model's :obj:`state`, as stored in ``last.pt``)."""

    def __init__(self, selector: Selector, best_qual: Optional[Dict[str, Any]] = None,
                 best_any: Optional[Dict[str, Any]] = None):
        self.selector = selector
        self.best_qual, self.best_any = best_qual, best_any

    def candidate(self, rec: Mapping[str, Any]) -> Tuple[bool, bool]:
        """Would :obj:`rec` become the best qualifying / the best overall epoch?"""
        qual = (self.selector.qualifies(rec["epoch"], rec.get("r"))
                and self.selector.better(rec, self.best_qual, self.selector.higher_is_better))
        return qual, self.selector.better(rec, self.best_any, self.selector.higher_is_better)

    def chosen(self) -> Tuple[Optional[Dict[str, Any]], str]:
        """The selected record and how: :obj:`"final_r"` or :obj:`"all_epochs"`."""
        if self.best_qual is not None:
            return self.best_qual, "final_r"
        return self.best_any, "all_epochs"
