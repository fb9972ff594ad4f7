r"""The prior keep probability :math:`r` over training (:func:`r_schedule`) and its checks.
Plain Python, no PyTorch: a config is validated with them before PyTorch loads;
:mod:`gsat.core.functional` re-exports them beside the loss terms that use them."""
from __future__ import annotations

from typing import Any, Mapping, Optional

__all__ = ["r_schedule", "R_KEYS", "check_r", "check_r_schedule", "final_prior"]


def r_schedule(epoch: int, init_r: float = 0.9, final_r: float = 0.5, decay_r: float = 0.1,
               decay_interval: int = 10, fixed_r: Optional[float] = None) -> float:
    r"""The prior keep probability :math:`r` used at a given (0-based) epoch.

    .. math::
        r(e) = \max\left(r_{\text{final}},\; r_{\text{init}} - \delta \cdot
        \left\lfloor e / T \right\rfloor\right)

    or the constant :obj:`fixed_r` when given.

    Args:
        epoch (int): 0-based epoch.
        init_r (float, optional): :math:`r` at epoch 0. (default: :obj:`0.9`)
        final_r (float, optional): lower bound of :math:`r`. (default: :obj:`0.5`)
        decay_r (float, optional): decrement :math:`\delta`. (default: :obj:`0.1`)
        decay_interval (int, optional): epochs :math:`T` between decrements. (default: :obj:`10`)
        fixed_r (float, optional): if set, returned for every epoch. (default: :obj:`None`)
    """
    if fixed_r is not None:
        return float(fixed_r)
    if decay_interval < 1:
        raise ValueError(f"decay_interval must be >= 1, got {decay_interval}")
    # Rounded so that 0.9 - 0.1 * 4 compares equal to 0.5 (model selection tests r == final_r).
    return max(float(final_r), round(init_r - decay_r * (epoch // decay_interval), 10))


#: the values of an :math:`r` schedule (:func:`r_schedule`) that are keep probabilities
R_KEYS = ("init_r", "final_r", "fixed_r")


def check_r(r: float, name: str = "r") -> float:
    r"""Return :obj:`r` if it is a keep probability in the open interval :math:`(0, 1)`;
    raise :class:`ValueError` naming :obj:`name` otherwise. The one check of every
    :math:`r` (:func:`bernoulli_kl`, :func:`check_r_schedule`)."""
    if not 0.0 < float(r) < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {r}")
    return r


def check_r_schedule(schedule: Mapping[str, Any], name: str = "{}") -> None:
    r""":func:`check_r` on every value of :data:`R_KEYS` that :obj:`schedule` sets (not
    :obj:`None`), named :obj:`name.format(key)`; the check of :class:`~gsat.GSAT`'s
    schedule, of :func:`gsat.fit`'s :obj:`r_schedule` and of a config's :obj:`gsat`
    section.

    Raises:
        ValueError: an :math:`r` outside :math:`(0, 1)`.
    """
    for key in R_KEYS:
        value = schedule.get(key)
        if value is not None:
            check_r(value, name.format(key))


def final_prior(final_r: Optional[float], fixed_r: Optional[float] = None
                ) -> Optional[float]:
    r"""The :math:`r` a schedule (:func:`r_schedule`) ends at: :obj:`fixed_r` when set, else
    :obj:`final_r`; model selection (:class:`gsat.core.selection.Selector`) waits for it."""
    return fixed_r if fixed_r is not None else final_r
