r"""Model selection: which epoch of a run is reported.

The protocol of `Miao, Liu & Li (ICML 2022) <https://arxiv.org/abs/2201.12987>`_: among the
epochs :math:`e >` :obj:`min_epoch` whose prior :math:`r` has reached its final value, the
one with the best validation metric; ties go to the lower validation prediction loss. When
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
    """

    def __init__(self, min_epoch: int = 10, final_r: Optional[float] = None):
        self.min_epoch = int(min_epoch)
        self.final_r = final_r

    def qualifies(self, epoch: int, r: Optional[float]) -> bool:
        """Can :obj:`epoch` (with prior :obj:`r`) be selected under the paper's protocol?"""
        if epoch <= self.min_epoch:
            return False
        return r is None or self.final_r is None or abs(r - self.final_r) < R_TOLERANCE

    @staticmethod
    def better(a: Mapping[str, float], b: Optional[Mapping[str, float]]) -> bool:
        r"""Is epoch record :obj:`a` better than :obj:`b`: higher :obj:`valid_metric` (NaN
        counts as :math:`-\infty`), then lower :obj:`valid_loss`? Always true when :obj:`b`
        is :obj:`None`."""
        if b is None:
            return True
        va, vb = a["valid_metric"], b["valid_metric"]
        va = -math.inf if math.isnan(va) else va
        vb = -math.inf if math.isnan(vb) else vb
        if va != vb:
            return va > vb
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
                and self.selector.better(rec, self.best_qual))
        return qual, self.selector.better(rec, self.best_any)

    def chosen(self) -> Tuple[Optional[Dict[str, Any]], str]:
        """The selected record and how: :obj:`"final_r"` or :obj:`"all_epochs"`."""
        if self.best_qual is not None:
            return self.best_qual, "final_r"
        return self.best_any, "all_epochs"
