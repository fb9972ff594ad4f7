r"""Where everything of a run lies: the one place that spells the file names of a run folder.

A training run (``gsat train``) and a benchmark (``gsat benchmark``) each own one folder::

    <run>/                      RunFolder
        .lock                   the process writing the run (RunLock)
        run.json                the arguments of the run (resume reads them back)
        config.yml              the resolved configuration
        dataset.json            what a model needs to know about the data
        results.json            per seed records, mean and std
        benchmark.json          (benchmark) one record per method and seed
        benchmark.md            (benchmark) the table
        benchmark.html          (benchmark) every method's explanations of the same graphs
        seed<N>/                SeedFolder (a benchmark: gsat/seed<N>/, erm/seed<N>/)
            best.pt             weights of the selected epoch
            last.pt             full training state after the last complete epoch
            pretrained.pt       GSAT*: the pretrained backbone
            metrics.csv         one row per epoch
            record.json         (benchmark) the trained model's record and stamp
            tuning-<name>.json  (benchmark) finished trials of a tuning in progress
            fitted-<name>.pt    (benchmark) a fitted explainer waiting for its tuning
            explanations/       pictures of test graphs
            tensorboard/        TensorBoard event files
            checkpoints/epoch<NNNN>.pt  weights kept for TracIn

Everything else (reading, writing, checking) goes through these paths.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Union

PathLike = Union[str, Path]

__all__ = ["RunFolder", "SeedFolder", "MODEL_KINDS"]

#: the models a benchmark trains, one sub-folder each
MODEL_KINDS = ("gsat", "erm")

_SEED = re.compile(r"seed(\d+)")
_EPOCH = re.compile(r"epoch(\d+)\.pt")


class SeedFolder:
    r"""The folder of one seed's model: ``seed<N>/`` of a run, or ``<kind>/seed<N>/`` of a
    benchmark."""

    def __init__(self, path: PathLike, seed: int):
        self.path, self.seed = Path(path), int(seed)

    def __repr__(self) -> str:
        return f"SeedFolder({str(self.path)!r}, seed={self.seed})"

    @property
    def best(self) -> Path:
        """Weights of the selected epoch."""
        return self.path / "best.pt"

    @property
    def last(self) -> Path:
        """The resumable training state after the last complete epoch."""
        return self.path / "last.pt"

    @property
    def pretrained(self) -> Path:
        """GSAT*: the pretrained backbone's weights."""
        return self.path / "pretrained.pt"

    @property
    def metrics(self) -> Path:
        """One row per epoch."""
        return self.path / "metrics.csv"

    @property
    def record(self) -> Path:
        """A benchmark's record of the trained model, with the stamp it was trained under."""
        return self.path / "record.json"

    @property
    def explanations(self) -> Path:
        """Pictures of explained test graphs."""
        return self.path / "explanations"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        """Weights kept every few epochs for TracIn."""
        return self.path / "checkpoints"

    def kept_checkpoint(self, epoch: int) -> Path:
        """The weights kept after 0-based :obj:`epoch`."""
        return self.checkpoints / f"epoch{epoch:04d}.pt"

    def kept_checkpoints(self) -> List[Path]:
        """The kept weights, in epoch order."""
        if not self.checkpoints.is_dir():
            return []
        found = [p for p in self.checkpoints.iterdir() if _EPOCH.fullmatch(p.name)]
        return sorted(found, key=lambda p: int(_EPOCH.fullmatch(p.name).group(1)))

    def tuning(self, explainer: str) -> Path:
        """The finished trials of a tuning of :obj:`explainer` in progress."""
        return self.path / f"tuning-{explainer}.json"

    def fitted(self, explainer: str) -> Path:
        """The fitted :obj:`explainer` (default settings) waiting for its tuning."""
        return self.path / f"fitted-{explainer}.pt"


class RunFolder:
    r"""The folder of a training run or a benchmark (see the module's layout)."""

    def __init__(self, path: PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def run_json(self) -> Path:
        """The arguments of the run."""
        return self.path / "run.json"

    @property
    def config(self) -> Path:
        """The resolved configuration."""
        return self.path / "config.yml"

    @property
    def dataset_json(self) -> Path:
        """What a model needs to know about the data."""
        return self.path / "dataset.json"

    @property
    def results(self) -> Path:
        """Per seed records with mean and std."""
        return self.path / "results.json"

    @property
    def benchmark_json(self) -> Path:
        return self.path / "benchmark.json"

    @property
    def benchmark_md(self) -> Path:
        return self.path / "benchmark.md"

    @property
    def benchmark_html(self) -> Path:
        """The page of the first seed's example graphs explained by every method."""
        return self.path / "benchmark.html"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def seed(self, seed: int) -> SeedFolder:
        """The folder of :obj:`seed`'s model in a training run."""
        return SeedFolder(self.path / f"seed{int(seed)}", seed)

    def model(self, kind: str, seed: int) -> SeedFolder:
        """The folder of a benchmark's :obj:`kind` model (``gsat`` or ``erm``) of :obj:`seed`."""
        return SeedFolder(self.path / kind / f"seed{int(seed)}", seed)

    def seeds_with_model(self) -> Dict[int, SeedFolder]:
        """The seeds of a training run that hold a selected model (``best.pt``), in order."""
        found = {}
        for p in self.path.glob("seed*"):
            m = _SEED.fullmatch(p.name)
            if m and (p / "best.pt").is_file():
                found[int(m.group(1))] = SeedFolder(p, int(m.group(1)))
        return dict(sorted(found.items()))
