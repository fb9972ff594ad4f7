r"""The two passes of the backbone in :class:`~gsat.GSAT` (ungated, to embed the nodes for
the extractor; gated by the attention, to predict): separate batch-norm statistics for the
gated pass (:class:`PassStatistics`) and recomputing the ungated pass in the backward pass
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
    gated pass; :meth:`swapped` puts them in place for the duration of a block. It is an
    option (:obj:`GSAT(separate_bn_stats=True)`), off by default: on BA-2Motifs with GIN the
    shared statistics gave far better explanations (``benchmarks/results/ba_2motifs.md``).

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
