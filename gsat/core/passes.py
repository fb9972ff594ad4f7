r"""The two passes of the backbone in :class:`~gsat.GSAT` (ungated, to embed the nodes for
the extractor; gated by the attention, to predict): separate batch-norm statistics for the
gated pass (:class:`PassStatistics`), statistics re-estimated over a loader
(:func:`cumulative_statistics`), and recomputing the ungated pass in the backward pass
instead of keeping its activations (:func:`recomputed`)."""
from __future__ import annotations

import contextlib
from typing import Iterator, List

import torch
from torch import nn


def batch_norms(module: nn.Module) -> List[nn.Module]:
    """The batch-norm layers of :obj:`module` that keep running statistics."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@contextlib.contextmanager
def cumulative_statistics(norms: List[nn.Module], reset: bool = True) -> Iterator[None]:
    r"""Within the block the batch-norm layers :obj:`norms` normalise with the statistics of
    each batch (training mode) and their running statistics, reset on entry (unless
    :obj:`reset` is false, to go on averaging), become the cumulative average over the
    batches seen (:obj:`momentum=None`); their mode and momentum are restored on exit. The
    layers' running statistics in place on entry (e.g. a set swapped in by
    :meth:`PassStatistics.swapped`) are the ones re-estimated."""
    old = [(m.training, m.momentum) for m in norms]
    for m in norms:
        if reset:
            m.reset_running_stats()
        m.train()
        m.momentum = None
    try:
        yield
    finally:
        for m, (training, momentum) in zip(norms, old):
            m.training, m.momentum = training, momentum


def recomputed(fn, module: nn.Module, *args):
    r""":obj:`fn(*args)` whose activations are not kept for the backward pass but computed
    again when it needs them, with the random numbers of the first run; the running
    statistics of :obj:`module`'s batch-norm layers are updated by the first run only."""
    from torch.utils.checkpoint import checkpoint

    runs = []

    def run(*a):
        if not runs:
            runs.append(1)
            return fn(*a)
        norms = batch_norms(module)
        kept = [{k: b.clone() for k, b in m._buffers.items() if b is not None} for m in norms]
        try:
            return fn(*a)
        finally:
            with torch.no_grad():
                for m, bufs in zip(norms, kept):
                    for k, b in bufs.items():
                        m._buffers[k].copy_(b)

    return checkpoint(run, *args, use_reentrant=False, preserve_rng_state=True)


class PassStatistics(nn.Module):
    r"""A second set of running statistics for every batch-norm layer of a module.

    GSAT runs the backbone twice per step: once without gating (to embed nodes for the
    extractor) and once gated by the attention. The activations of the two passes have
    different distributions; one set of batch-norm running statistics shared by both (as in
    the paper's code) is a mixture of the two. This module holds separate statistics for the
    gated pass; :meth:`swapped` puts them in place for the duration of a block. It is used by
    :obj:`GSAT(bn_stats="separate")` and :obj:`GSAT(bn_stats="recomputed")`; measurements
    of the choices are in ``benchmarks/results/stable_eval.md``.

    Args:
        module (torch.nn.Module): the backbone whose :class:`torch.nn.modules.batchnorm._BatchNorm`
            layers get a second set of statistics.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self._norms = batch_norms(module)
        for i, bn in enumerate(self._norms):
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(f"{name}_{i}", getattr(bn, name).detach().clone())

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Within the block the batch-norm layers use (and update) the held statistics."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def _swap(self) -> None:
        for i, bn in enumerate(self._norms):
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                key = f"{name}_{i}"
                bn._buffers[name], self._buffers[key] = self._buffers[key], bn._buffers[name]
