r"""Data-parallel training with :mod:`torch.distributed`: one process per device, gradients
averaged by :class:`~torch.nn.parallel.DistributedDataParallel` (DDP), launched with
``torchrun``:

.. code-block:: bash

    torchrun --nproc-per-node 8 -m gsat train --dataset ogbg_molhiv --device cuda

What changes under a launch (and nothing changes without one):

* **Process group.** :func:`launched` reads torchrun's :obj:`RANK`, :obj:`WORLD_SIZE` and
  :obj:`LOCAL_RANK`, and initialises the default group: backend :obj:`"nccl"` on device
  :obj:`cuda:LOCAL_RANK` for :obj:`--device cuda`, :obj:`"gloo"` on the CPU.
* **Batches.** A :class:`~torch.utils.data.distributed.DistributedSampler` splits the
  training graphs (shuffled with the run's seed, :meth:`set_epoch` every epoch, so
  :obj:`--resume` continues exactly; up to :math:`W - 1` graphs repeated so that every
  process takes the same number of steps). The global batch size stays
  :obj:`train.batch_size`: each of :math:`W` processes takes :obj:`batch_size / W` graphs,
  and DDP's average of the per-process mean losses' gradients is the gradient of the mean
  loss over the global batch. A :obj:`batch_size` that :math:`W` does not divide is refused
  (:class:`~gsat.errors.ConfigError`): any rounding would change the optimisation.
* **Node tasks** (the whole-graph design, :mod:`gsat.data.node.whole`). Every process
  runs the whole graph and takes the loss over its share of the training nodes
  (:func:`target_share`: every :math:`W`-th node); the KL term, over every edge, is the same
  in every process. DDP's average is the gradient of the mean loss over all training nodes
  when :math:`W` divides their number (otherwise the shares differ by one node and their
  nodes weigh slightly differently). This splits the loss, not the graph: each process
  holds the whole graph.
* **Random numbers.** All processes build the model from the seed; then rank
  :math:`r > 0` draws attention noise and dropout from the stream of :func:`rank_seed`.
  ``last.pt`` holds every rank's random state.
* **Batch norm.** Each process normalises over its own share of the batch (no
  :class:`~torch.nn.SyncBatchNorm`: it does not run on the CPU, and GSAT's two backbone
  passes would double its collectives); rank 0's running statistics, the saved ones, are
  copied to every rank before every evaluation.
* **Evaluation.** Scores equal those of a single-process
  :func:`gsat.training.engine.evaluate`: rank :math:`r` runs batches :math:`r, r + W,
  \ldots` of the single-process split, and the per-batch predictions are gathered in batch
  order before scoring, so every rank takes identical model-selection decisions.
* **Files.** Only rank 0 writes; the run folder must be on a file system every process
  reads when resuming.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as torch_dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import SequentialSampler
from torch.utils.data.distributed import DistributedSampler
from torch_geometric.loader import DataLoader

from gsat.errors import ConfigError
from gsat.training.engine import (Engine, EvalResult, predict_batches, score_batches,
                                  set_seed, train_epoch)

log = logging.getLogger(__name__)

__all__ = ["DistContext", "DistributedEngine", "launched", "launch_env", "current",
           "distributed_loader", "rank_seed", "refuse_launch", "restore_rank_rng",
           "target_share"]

#: environment variables torchrun sets for every process
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launch_env(environ: Optional[Dict[str, str]] = None) -> Optional[Tuple[int, int, int]]:
    r""":obj:`(rank, world_size, local_rank)` when the process was started by ``torchrun``
    (all of :obj:`RANK`, :obj:`WORLD_SIZE` and :obj:`LOCAL_RANK` are set), else
    :obj:`None`.

    Raises:
        gsat.errors.ConfigError: only some of the variables are set, or they are not
            whole numbers with :math:`0 \le` rank :math:`<` world size.
    """
    env = os.environ if environ is None else environ
    present = [k for k in LAUNCH_VARIABLES if k in env]
    if not present:
        return None
    if len(present) != len(LAUNCH_VARIABLES):
        missing = [k for k in LAUNCH_VARIABLES if k not in env]
        raise ConfigError(f"{', '.join(present)} set but not {', '.join(missing)}: start "
                          "distributed training with torchrun (or unset these variables)")
    try:
        rank, world, local = (int(env[k]) for k in LAUNCH_VARIABLES)
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers, got "
                          + ", ".join(repr(env[k]) for k in LAUNCH_VARIABLES)) from None
    if not (world >= 1 and 0 <= rank < world and local >= 0):
        raise ConfigError(f"RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local} do not fit "
                          "together (0 <= RANK < WORLD_SIZE expected)")
    return rank, world, local


def rank_seed(seed: int, rank: int) -> int:
    r"""The seed of rank :obj:`rank`'s random stream in a run of seed :obj:`seed`: the seed
    itself for rank 0, else a number derived from both (:class:`numpy.random.SeedSequence`),
    so that no two (seed, rank) pairs share a stream."""
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1)[0])


@dataclass(frozen=True)
class DistContext:
    r"""This process's place in an initialised default process group.

    Args:
        rank (int): global rank. world_size (int): number of processes.
        local_rank (int): rank on this machine. device (torch.device): this process's device.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        torch_dist.barrier()

    def all_gather_object(self, obj: Any) -> List[Any]:
        """:obj:`obj` of every rank, in rank order (a collective: every rank calls it)."""
        out: List[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's :obj:`obj` on every rank."""
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce(self, values: Sequence[float], op: str = "mean") -> List[float]:
        r"""Element-wise mean (:obj:`op="mean"`) or maximum (:obj:`"max"`) of
        :obj:`values` over the ranks (in float64)."""
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(t, op=torch_dist.ReduceOp.MAX if op == "max"
                              else torch_dist.ReduceOp.SUM)
        if op == "mean":
            t /= self.world_size
        return t.tolist()

    def sync_buffers(self, module: nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) to every rank."""
        for buf in module.buffers():
            torch_dist.broadcast(buf.data, src=0)

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        r"""Within the block rank 0 goes first, then the first process of every other
        machine, then the rest (e.g. so that one process per machine writes a dataset
        cache the others then read)."""
        for phase in range(3):
            mine = (0 if self.rank == 0 else 1 if self.local_rank == 0 else 2)
            if mine == phase:
                yield
            self.barrier()

    def per_rank_batch_size(self, batch_size: int) -> int:
        r"""The batch size of one process, :obj:`batch_size / world_size`.

        Raises:
            gsat.errors.ConfigError: :obj:`world_size` does not divide :obj:`batch_size`.
        """
        if batch_size % self.world_size:
            lower = batch_size - batch_size % self.world_size
            raise ConfigError(
                f"train.batch_size {batch_size} cannot be split over {self.world_size} "
                f"processes (the global batch size is kept, each process takes batch_size / "
                f"{self.world_size}); use a multiple of {self.world_size} such as "
                f"{lower or self.world_size} or {lower + self.world_size}")
        return batch_size // self.world_size

    def seed_rank(self, seed: int) -> None:
        r"""Seed this rank's random stream (:func:`rank_seed`); rank 0 is left as it is."""
        if self.rank != 0:
            set_seed(rank_seed(seed, self.rank))

    def wrap(self, module: nn.Module, find_unused: bool = True) -> "_DDP":
        r""":obj:`module` in :class:`~torch.nn.parallel.DistributedDataParallel` (which
        broadcasts rank 0's parameters and buffers). :obj:`find_unused` (DDP's
        :obj:`find_unused_parameters`) is needed where a batch may have no edges: that
        leaves GSAT's extractor unused on that rank, which would otherwise stall the
        gradient all-reduce; it costs one traversal of the autograd graph per step (about
        5% of a GIN step on molecules, measured), and DDP warns on every run in which no
        step left a parameter unused. :class:`DistributedEngine` turns it off when every
        training graph has an edge (:func:`every_graph_has_edges`)."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        return _DDP(module, device_ids=ids, output_device=ids[0] if ids else None,
                    find_unused_parameters=find_unused)


def every_graph_has_edges(graphs: Any) -> bool:
    r"""Does every graph of :obj:`graphs` (a list or PyG dataset) have at least one edge?
    Read from an :class:`~torch_geometric.data.InMemoryDataset`'s slices without building
    the graphs where it can."""
    slices = getattr(graphs, "slices", None)
    if (isinstance(slices, dict) and "edge_index" in slices
            and getattr(graphs, "_indices", None) is None):
        return bool((slices["edge_index"].diff() > 0).all())
    return all(int(g.edge_index.size(1)) > 0 for g in graphs)


class _DDP(DistributedDataParallel):
    """DDP that also exposes the wrapped model's :meth:`loss` (used by
    :func:`gsat.training.engine.train_epoch`)."""

    def loss(self, *args: Any, **kwargs: Any) -> Any:
        return self.module.loss(*args, **kwargs)


def refuse_launch(command: str) -> None:
    r"""Raise :class:`~gsat.errors.ConfigError` when started by ``torchrun``: for commands
    that run in one process only (:obj:`command` names it in the message)."""
    if launch_env() is not None:
        raise ConfigError(f"gsat {command} runs in one process; start it without torchrun "
                          "(only gsat train is data-parallel)")


def current(device: str = "cpu") -> Optional[DistContext]:
    r"""The :class:`DistContext` of the initialised default process group, or :obj:`None`
    when :mod:`torch.distributed` is not initialised (single-process training). The device
    is :obj:`cuda:LOCAL_RANK` when :obj:`device` is a CUDA device, else the CPU."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return None
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", rank))
    dev = torch.device("cuda", local) if str(device).startswith("cuda") else torch.device("cpu")
    return DistContext(rank, world, local, dev)


def _check_device(device: str, local_rank: int) -> None:
    if device == "cpu" or device == "cuda":
        pass
    elif device.startswith("cuda:"):
        raise ConfigError(f"--device {device}: under torchrun every process uses "
                          f"cuda:LOCAL_RANK; pass --device cuda")
    else:
        raise ConfigError(f"--device {device}: distributed training runs on cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but CUDA is not available; use "
                          "--device cpu")
    if device == "cuda" and local_rank >= torch.cuda.device_count():
        raise ConfigError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} "
                          "CUDA devices: start at most that many processes per machine")


@contextlib.contextmanager
def launched(device: str = "cpu", timeout_minutes: float = 30.0
             ) -> Iterator[Optional[DistContext]]:
    r"""Within the block the default process group of a ``torchrun`` launch is initialised
    (:obj:`"nccl"` for :obj:`device="cuda"`, else :obj:`"gloo"`) and the block gets its
    :class:`DistContext`; without a launch (:func:`launch_env` is :obj:`None`) the block
    gets :obj:`None` and nothing happens. A group initialised here is destroyed on exit.
    Ranks other than 0 log errors only.

    Raises:
        gsat.errors.ConfigError: a partial launch environment, or a device that does not
            fit (:obj:`cuda:N` instead of :obj:`cuda`, no CUDA).
    """
    env = launch_env()
    if env is None:
        yield None
        return
    rank, world, local = env
    _check_device(device, local)
    if torch_dist.is_initialized():  # set up by the caller
        yield current(device)
        return
    if device == "cuda":
        torch.cuda.set_device(local)
        backend = "nccl"
    else:
        backend = "gloo"
    torch_dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    logger = logging.getLogger("gsat")
    level = logger.level
    if rank != 0:  # every rank sees the same; rank 0 tells
        logger.setLevel(logging.ERROR)
    try:
        yield current(device)
    finally:
        logger.setLevel(level)
        torch_dist.destroy_process_group()


def target_share(graph: Any, dist: DistContext) -> Any:
    r"""This rank's copy of the whole graph of a node task: the same graph with
    :obj:`target_mask` keeping the :math:`r`-th, :math:`(r + W)`-th, ... of its target nodes
    (in node order), so that the :math:`W` shares partition the targets and differ in size
    by at most one node.

    Raises:
        gsat.errors.ConfigError: fewer target nodes than processes.
    """
    nodes = graph.target_mask.nonzero().view(-1)
    if nodes.numel() < dist.world_size:
        raise ConfigError(f"the training split has {nodes.numel()} node(s), fewer than the "
                          f"{dist.world_size} processes; train in fewer processes")
    share = graph.clone()
    share.target_mask = torch.zeros_like(graph.target_mask)
    share.target_mask[nodes[dist.rank::dist.world_size]] = True
    return share


def distributed_loader(graphs: Sequence, batch_size: int, dist: DistContext,
                       seed: int = 0) -> DataLoader:
    r"""This rank's training loader: a :class:`DistributedSampler` over :obj:`graphs`
    (shuffled with :obj:`seed`; call :obj:`loader.sampler.set_epoch(epoch)` every epoch)
    and batches of :meth:`DistContext.per_rank_batch_size` graphs. For the one whole graph
    of a node task (a graph with :obj:`target_mask`), every rank takes the whole graph with
    its share of the target nodes (:func:`target_share`)."""
    graphs = list(graphs)
    if len(graphs) == 1 and getattr(graphs[0], "target_mask", None) is not None:
        return DataLoader([target_share(graphs[0], dist)], batch_size=1)
    sampler = DistributedSampler(list(graphs), num_replicas=dist.world_size, rank=dist.rank,
                                 shuffle=True, seed=seed, drop_last=False)
    return DataLoader(list(graphs), batch_size=dist.per_rank_batch_size(batch_size),
                      sampler=sampler)


# --------------------------------------------------------------------------- the engine


class DistributedEngine(Engine):
    r"""The :class:`gsat.training.engine.Engine` of one process of a data-parallel run.

    Training steps go through a :class:`~torch.nn.parallel.DistributedDataParallel` wrapper
    of :obj:`model` (:attr:`ddp_model`); :attr:`model` stays the plain module, so state
    dicts and checkpoints are those of single-process training. Per epoch it sets the
    training sampler's epoch, averages the training losses over the ranks (each rank
    takes the same number of graphs) and computes the training metric of the logits of
    all ranks; it copies rank 0's buffers to all ranks before evaluating; evaluation is
    split by batches and gathered (see :mod:`gsat.training.distributed`). Every method that
    communicates is called by every rank in the same order, which holds because every
    rank sees identical epoch records.

    Args:
        dist (DistContext): this process's place in the group.
        *args, **kwargs: as for :class:`gsat.training.engine.Engine`; :obj:`is_main` is taken from
            :obj:`dist` and the progress bars show on rank 0 only.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, train_loader: Any,
                 valid_loader: Optional[Any] = None, *, dist: DistContext, **kwargs: Any):
        kwargs["is_main"] = dist.is_main
        kwargs["progress"] = kwargs.get("progress", True) and dist.is_main
        kwargs["batch_progress"] = kwargs.get("batch_progress", False) and dist.is_main
        super().__init__(model, optimizer, train_loader, valid_loader, **kwargs)
        self.dist = dist
        # a batch without edges leaves the extractor unused; none has one where every
        # training graph has an edge
        graphs = getattr(train_loader, "dataset", None)
        # GMT-sam's second stage leaves the backbone and extractor unused, and the first
        # stage its stage-2 classifier
        from gsat.core.gmt import stage2_start

        self.ddp_model = dist.wrap(model, find_unused=graphs is None
                                   or not every_graph_has_edges(graphs)
                                   or stage2_start(model) > 0)
        self._shards: Dict[int, Tuple[Any, DataLoader, List[int]]] = {}

    def train_pass(self, epoch: int) -> Dict[str, float]:
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        ep = train_epoch(self.ddp_model, self.train_loader, self.optimizer, epoch, self.device,
                         self._gathered_metric, progress=self.batch_progress)
        keys = sorted(k for k in ep if k not in ("seconds", "train_metric"))
        for key, value in zip(keys, self.dist.all_reduce([ep[k] for k in keys])):
            ep[key] = value
        ep["seconds"] = self.dist.all_reduce([ep["seconds"]], op="max")[0]
        self.dist.sync_buffers(self.model)
        return ep

    def refresh_statistics(self) -> float:
        """:meth:`Engine.refresh_statistics` on every rank's share of the training graphs,
        then rank 0's statistics on every rank, as after the training pass."""
        seconds = super().refresh_statistics()
        if seconds:
            self.dist.sync_buffers(self.model)
        return seconds

    def _gathered_metric(self, logits: torch.Tensor, y: torch.Tensor) -> float:
        parts = self.dist.all_gather_object((logits.cpu(), y.cpu()))
        return self.evaluator(torch.cat([p[0] for p in parts]),
                              torch.cat([p[1] for p in parts]))

    def _shard(self, loader: Any) -> Optional[Tuple[DataLoader, List[int]]]:
        """This rank's batches of a non-shuffling :obj:`loader` and their indices."""
        cached = self._shards.get(id(loader))
        if cached is not None and cached[0] is loader:
            return cached[1], cached[2]
        if not (isinstance(loader, torch.utils.data.DataLoader)
                and isinstance(loader.sampler, SequentialSampler)
                and loader.batch_size is not None):
            return None
        n, b = len(loader.dataset), loader.batch_size
        ids = list(range(self.dist.rank, math.ceil(n / b), self.dist.world_size))
        batches = [list(range(j * b, min((j + 1) * b, n))) for j in ids]
        shard = DataLoader(loader.dataset, batch_sampler=batches)
        self._shards[id(loader)] = (loader, shard, ids)
        return shard, ids

    def evaluate_split(self, loader: Any, keep_arrays: bool = False,
                       dataset_metric: bool = True) -> EvalResult:
        r"""Scores of the model on :obj:`loader` (every rank gets the same): this rank's
        batches are evaluated and the per-batch arrays of all ranks gathered in batch
        order, then scored by :func:`gsat.training.engine.score_batches` exactly as one process would.
        A loader that shuffles or has no batch size is evaluated whole on every rank."""
        shard = self._shard(loader)
        if shard is None:
            parts = predict_batches(self.model, loader, self.device)
        else:
            mine = predict_batches(self.model, shard[0], self.device)
            gathered = self.dist.all_gather_object(list(zip(shard[1], mine)))
            parts = [p for _, p in sorted((item for rank in gathered for item in rank),
                                          key=lambda item: item[0])]
        return score_batches(self.model, parts, self.evaluator_for(dataset_metric), self.k,
                             keep_arrays=keep_arrays)

    def training_state(self, generator: Optional[torch.Generator]) -> Dict[str, Any]:
        r"""The random states of all ranks: :obj:`rng` (rank 0's, the layout of a
        single-process ``last.pt``), :obj:`rng_ranks` (one per rank) and
        :obj:`world_size` (a collective)."""
        from gsat.io.checkpoint import rng_state

        states = self.dist.all_gather_object(rng_state(generator))
        return {"rng": states[0], "rng_ranks": states, "world_size": self.dist.world_size}


def restore_rank_rng(ckpt: Dict[str, Any], dist: DistContext, seed: int, source: str) -> None:
    r"""Put this rank's random state of a ``last.pt`` back in place. A checkpoint written by
    another number of processes (or by one) is continued with a warning: the sampler then
    splits the data differently, so the run no longer equals an uninterrupted one; ranks
    without a saved state start the stream of :func:`rank_seed`."""
    from gsat.io.checkpoint import set_rng_state

    saved_world = int(ckpt.get("world_size", 1))
    states = ckpt.get("rng_ranks")
    if saved_world != dist.world_size:
        log.warning("%s was written by %d process(es), resumed with %d: training continues, "
                    "but not exactly as an uninterrupted run would", source, saved_world,
                    dist.world_size)
    if isinstance(states, list) and dist.rank < len(states) and isinstance(states[dist.rank], dict):
        set_rng_state(states[dist.rank])
    else:
        dist.seed_rank(seed + int(ckpt["epoch"]) + 1)
