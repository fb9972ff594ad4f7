r"""Reproduce GSAT's interpretation and prediction results, one cell of
{GIN, PNA} x {ba_2motifs, mutag, spmotif_0.5, spmotif_0.7, spmotif_0.9} at a time.

    # train: one run folder per (dataset, backbone, seed); finished seeds are skipped
    python benchmarks/reproduce.py run --backbone GIN --dataset spmotif_0.5 --seeds 0 1 2
    # fill benchmarks/results/REPRODUCTION.md from the results.json files of finished runs
    python benchmarks/reproduce.py report

Every seed is a :func:`gsat.training.driver.run` with the paper's config
(``gsat/configs/<BACKBONE>-<dataset>.yml``) writing ``<runs-dir>/<dataset>-<backbone>-seed<N>/``
(``results.json``, ``config.yml``, checkpoints, ``metrics.csv``). The report reads the
``results.json`` of those run folders in ``--runs-dir`` and tabulates, per cell, the
interpretation ROC AUC, precision@5 and prediction metric (mean ± std over seeds, population
std as in ``results.json``), the published values of Miao et al. (ICML 2022) from
:data:`gsat.benchmark.PUBLISHED` and :data:`gsat.benchmark.PUBLISHED_PREDICTION`, the
seconds per training epoch and the command that runs the cell.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

# import the gsat package of this checkout, also when it is not the installed one
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gsat.benchmark import PUBLISHED, PUBLISHED_PREDICTION, PUBLISHED_SOURCE
from gsat.metrics.summary import summarize
from gsat.training.driver import RunSpec, run

log = logging.getLogger("gsat.reproduce")
HERE = Path(__file__).resolve().parent
BACKBONES = ("GIN", "PNA")
DATASETS = ("ba_2motifs", "mutag", "spmotif_0.5", "spmotif_0.7", "spmotif_0.9")
DEFAULT_RUNS = HERE / "runs"
DEFAULT_REPORT = HERE / "results" / "REPRODUCTION.md"
#: hand-written remarks appended to the report
DEFAULT_NOTES = HERE / "results" / "reproduction_notes.md"


def run_folder(runs_dir: Path, dataset: str, backbone: str, seed: int,
               variant: Optional[str] = None, tag: Optional[str] = None) -> Path:
    """The run folder of one seed of one cell (``<dataset>+<variant>+<tag>-...`` for a
    dataset variant or a tagged protocol)."""
    name = "+".join(x for x in (dataset, variant, tag) if x)
    return runs_dir / f"{name}-{backbone}-seed{seed}"


def finished(folder: Path, seed: int) -> bool:
    """Does :obj:`folder` hold a results.json with a finished run of :obj:`seed`?"""
    path = folder / "results.json"
    if not path.is_file():
        return False
    try:
        res = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return any(r.get("seed") == seed for r in res.get("runs", []))


def cell_command(backbone: str, dataset: str, seeds: Sequence[int], runs_dir: Path,
                 data_dir: str, variant: Optional[str] = None,
                 epochs: Optional[int] = None, tag: Optional[str] = None,
                 config: Optional[str] = None) -> str:
    """The command line that runs one cell."""
    cmd = ["python", "benchmarks/reproduce.py", "run", "--backbone", backbone, "--dataset",
           dataset, "--seeds", *map(str, seeds)]
    if variant:
        cmd += ["--variant", variant]
    if tag:
        cmd += ["--tag", tag]
    if config:
        cmd += ["--config", config]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    if Path(runs_dir).resolve() != DEFAULT_RUNS.resolve():
        cmd += ["--runs-dir", str(runs_dir)]
    if data_dir != "data":
        cmd += ["--data-dir", data_dir]
    return " ".join(shlex.quote(c) for c in cmd)


def run_cells(backbones: Sequence[str], datasets: Sequence[str], seeds: Sequence[int],
              runs_dir: Path, data_dir: str, device: str, epochs: Optional[int] = None,
              progress: bool = False, force: bool = False,
              variant: Optional[str] = None, tag: Optional[str] = None,
              config: Optional[str] = None) -> List[Path]:
    r"""Train every (backbone, dataset, seed) in turn into its own run folder; seeds whose
    folder already holds a finished ``results.json`` are skipped unless :obj:`force`.
    :obj:`variant` is the dataset's ``variant`` option (e.g. Spurious-Motif's
    ``undirected``); :obj:`config` replaces the shipped config and then needs a :obj:`tag`
    naming the changed protocol. Variant and tagged cells are reported as extra rows, without
    a comparison to the paper. A seed whose folder holds an unfinished run (``last.pt``)
    continues it (``gsat train --resume``), so long cells run across several sittings.

    Returns:
        list of Path: the run folders written.
    """
    written = []
    for bb in backbones:
        for ds in datasets:
            for seed in seeds:
                out = run_folder(runs_dir, ds, bb, seed, variant, tag)
                if not force and finished(out, seed):
                    log.info("%s already holds seed %d; skipped", out, seed)
                    continue
                log.info("running %s %s seed %d into %s", ds, bb, seed, out)
                options = {"variant": variant} if variant else {}
                if not force and (out / "run.json").is_file() and \
                        (out / f"seed{seed}" / "last.pt").is_file():
                    log.info("continuing the unfinished run in %s", out)
                    spec = RunSpec(dataset=ds, resume=str(out), progress=progress)
                else:
                    spec = RunSpec(dataset=ds, backbone=bb, seeds=[seed], device=device,
                                   out=str(out), data_dir=data_dir, epochs=epochs,
                                   progress=progress, dataset_options=options, config=config)
                run(spec)
                meta = {"command": cell_command(bb, ds, [seed], runs_dir, data_dir, variant,
                                                epochs, tag, config),
                        "argv": sys.argv, "epochs_override": epochs, "data_dir": data_dir,
                        "variant": variant, "tag": tag, "config": config}
                (out / "reproduce.json").write_text(json.dumps(meta, indent=2))
                written.append(out)
    return written


def collect(runs_dir: Path) -> Dict[Tuple[str, str], Dict[str, Any]]:
    r"""Per (dataset, backbone): the GSAT run records of the ``results.json`` files in the
    run folders :obj:`<runs_dir>/<dataset>-<backbone>-seed<N>/` written by :func:`run_cells`
    (other folders are ignored; a seed found twice keeps the later file) and the epochs
    trained."""
    cells: Dict[Tuple[str, str], Dict[str, Any]] = {}
    paths = [p for p in Path(runs_dir).glob("*-seed*/results.json")
             if p.parent.name.rsplit("-seed", 1)[1].isdigit()]
    for path in sorted(paths, key=lambda p: p.stat().st_mtime):
        try:
            res = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("skipping unreadable %s (%s)", path, exc)
            continue
        if res.get("method") != "GSAT" or not res.get("runs"):
            continue
        meta = _meta(path.parent)
        key = ("+".join(x for x in (res["dataset"], meta.get("variant"), meta.get("tag")) if x),
               res["backbone"])
        cell = cells.setdefault(key, {"runs": {}, "epochs": set(), "metric_name":
                                      res.get("metric_name", "acc"), "folders": [],
                                      "data_dir": None, "epochs_override": set()})
        cell["epochs_override"].add(_meta(path.parent).get("epochs_override"))
        cell["data_dir"] = _data_dir_of(path.parent) or cell["data_dir"]
        for rec in res["runs"]:
            cell["runs"][rec["seed"]] = rec
            cell["epochs"].add(rec.get("epochs", res.get("epochs")))
        cell["folders"].append(str(path.parent))
    return cells


def _meta(folder: Path) -> Dict[str, Any]:
    """The reproduce.json of a run folder ({} when missing or unreadable)."""
    try:
        meta = json.loads((folder / "reproduce.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _data_dir_of(folder: Path) -> Optional[str]:
    """The --data-dir a run folder was trained with, from its reproduce.json."""
    meta = _meta(folder)
    if not meta:
        return None
    if "data_dir" in meta:
        return meta["data_dir"]
    argv = meta.get("argv", [])
    return argv[argv.index("--data-dir") + 1] if "--data-dir" in argv[:-1] else "data"


def _pm(mean: Dict[str, float], std: Dict[str, float], key: str, scale: float = 100.0,
        digits: int = 2, n: int = 2) -> str:
    """``mean ± std`` (just the value when :obj:`n` is 1: there is no spread)."""
    if key not in mean or mean[key] is None or math.isnan(mean[key]):
        return "n/a"
    if n == 1:
        return f"{scale * mean[key]:.{digits}f}"
    return f"{scale * mean[key]:.{digits}f} ± {scale * std[key]:.{digits}f}"


def _published(dataset: str, backbone: str) -> Tuple[str, str]:
    auc = PUBLISHED.get(dataset, {}).get(f"gsat:{backbone}")
    acc = PUBLISHED_PREDICTION.get(dataset, {}).get(f"gsat:{backbone}")
    return ((f"{auc[0]:.2f}" if auc[1] is None else f"{auc[0]:.2f} ± {auc[1]:.2f}")
            if auc else "n/a",
            f"{acc:.2f}" if acc is not None else "n/a")


def _published_auc(dataset: str, backbone: str) -> Optional[float]:
    auc = PUBLISHED.get(dataset, {}).get(f"gsat:{backbone}")
    return auc[0] if auc else None


def _gap(mean: Dict[str, float], key: str, published: Optional[float]) -> str:
    """Ours minus the published value, x100 points."""
    if published is None or key not in mean or math.isnan(mean[key]):
        return "n/a"
    return f"{100 * mean[key] - published:+.2f}"


def report(runs_dir: Path, data_dir: str = "data", notes: Optional[Path] = None) -> str:
    r"""The markdown text of ``REPRODUCTION.md`` from the finished runs below
    :obj:`runs_dir`, followed by the text of :obj:`notes` (a markdown file of remarks on the
    numbers) when it exists."""
    cells = collect(runs_dir)
    rows, missing = [], []
    variants = sorted({key for key in cells if "+" in key[0]})
    keys = [(ds, bb) for bb in BACKBONES for ds in DATASETS] + variants
    for ds_key, bb in keys:
        ds, _, variant = ds_key.partition("+")
        # a variant is our own benchmark: no published number to compare with
        pub_auc, pub_acc = ("n/a", "n/a") if variant else _published(ds, bb)
        pub_ds = "" if variant else ds
        cell = cells.get((ds_key, bb))
        if cell is None:
            missing.append(f"{bb} {ds}")
            continue
        over = sorted(e for e in cell["epochs_override"] if e)
        seeds = sorted(cell["runs"])
        runs = [cell["runs"][s] for s in seeds]
        summ = summarize(runs)
        m, s = summ["mean"], summ["std"]
        n = len(seeds)
        epochs = "/".join(str(e) for e in sorted(e for e in cell["epochs"] if e is not None))
        partial = [r["seed"] for r in runs if r.get("selection") == "all_epochs"]
        note = f" (seeds {partial}: no epoch with final r)" if partial else ""
        label = f"{ds} ({variant}, ours only)" if variant else ds
        first = _meta(Path(cell["folders"][0]))
        command = cell_command(bb, ds, seeds, runs_dir, cell["data_dir"] or data_dir,
                               first.get("variant"), over[0] if over else None,
                               first.get("tag"), first.get("config"))
        rows.append(
            f"| {bb} | {label} | {_pm(m, s, 'test_interp_auc', n=n)} | {pub_auc} | "
            f"{_gap(m, 'test_interp_auc', _published_auc(pub_ds, bb))} | "
            f"{_pm(m, s, 'test_precision_at_5', n=n)} | "
            f"{_pm(m, s, 'test_metric', n=n)} | {pub_acc} | "
            f"{_gap(m, 'test_metric', PUBLISHED_PREDICTION.get(pub_ds, {}).get(f'gsat:{bb}'))} | "
            f"{len(seeds)} ({' '.join(map(str, seeds))}){note} | {epochs} | "
            f"{_pm(m, s, 'seconds_per_epoch', 1.0, 1, n)} | "
            f"`{command}` |")
    table = "\n".join(rows) if rows else "| (no finished runs yet) |" + " |" * 12
    not_run = ", ".join(missing) if missing else "none"
    extra = "\n" + Path(notes).read_text() if notes is not None and Path(notes).is_file() else ""
    return f"""# GSAT reproduction: interpretation and prediction against the paper

Generated by `python benchmarks/reproduce.py report{_report_flags(runs_dir, data_dir)}` from the
`results.json` files of finished runs. Each row is one cell (backbone x dataset); each seed is
a separate `gsat.training.driver.run` with the shipped config `gsat/configs/<BACKBONE>-<config>.yml` and the
paper's number of epochs. Scores x100, mean ± population std over the seeds listed (a single
value for one seed); Δ = ours - paper.
"paper": {PUBLISHED_SOURCE} (interpretation ROC AUC) and Table 3
(Spurious-Motif test accuracy).

Protocol: interpretation ROC AUC is one score over all edges of the interpretation test
graphs pooled; precision@5 is averaged over those graphs; the reported epoch is the one with
the best validation metric among epochs > 10 whose r has reached its final value. Mutag's
interpretation graphs are the mutagen graphs with ground truth, as in the paper's code; its
"pred" column is the accuracy on those graphs. Seconds per epoch are training seconds
(evaluation excluded) on {platform.machine()} CPU, torch {torch.__version__}, on a
machine shared with other jobs, so they are indicative only.

| backbone | dataset | interp AUC | paper | Δ | precision@5 | pred (acc) | paper acc | Δ acc | seeds | epochs | s/epoch | command |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{table}

Cells without a finished run when this report was written: {not_run}.
{extra}"""


def _report_flags(runs_dir: Path, data_dir: str) -> str:
    flags = ""
    if Path(runs_dir).resolve() != DEFAULT_RUNS.resolve():
        flags += f" --runs-dir {shlex.quote(str(runs_dir))}"
    return flags


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train cells of the matrix, one seed per run folder")
    r.add_argument("--backbone", nargs="+", default=["GIN"], choices=BACKBONES)
    r.add_argument("--dataset", nargs="+", default=list(DATASETS), choices=DATASETS)
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--epochs", type=int, default=None,
                   help="override the config's epochs (only for trying the harness; the "
                        "report marks the epochs trained)")
    r.add_argument("--force", action="store_true", help="rerun seeds that already finished")
    r.add_argument("--tag", default=None,
                   help="name of a changed protocol (needed with --config); reported as an "
                        "extra row")
    r.add_argument("--config", default=None,
                   help="YAML config replacing the shipped one (with --tag)")
    r.add_argument("--variant", default=None,
                   help="dataset variant option (e.g. undirected for Spurious-Motif); reported "
                        "as an extra row")
    r.add_argument("--progress", action="store_true", help="show progress bars")
    for q in (r, sub.add_parser("report", help="write REPRODUCTION.md from finished runs")):
        q.add_argument("--runs-dir", default=str(DEFAULT_RUNS),
                       help="folder of the run folders (default: benchmarks/runs)")
        q.add_argument("--data-dir", default="data", help="data root (default: data)")
        q.add_argument("--device", default="cpu")
    sub.choices["report"].add_argument("--out", default=str(DEFAULT_REPORT),
                                       help="markdown file to write "
                                            "(default: benchmarks/results/REPRODUCTION.md)")
    sub.choices["report"].add_argument("--notes", default=str(DEFAULT_NOTES),
                                       help="markdown remarks appended to the table, if the "
                                            "file exists (default: "
                                            "benchmarks/results/reproduction_notes.md)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    runs_dir = Path(args.runs_dir)
    if args.command == "run" and bool(args.config) != bool(args.tag):
        p.error("--config and --tag go together: a changed protocol is reported under its tag")
    if args.command == "run":
        runs_dir.mkdir(parents=True, exist_ok=True)
        run_cells(args.backbone, args.dataset, args.seeds, runs_dir, args.data_dir, args.device,
                  args.epochs, args.progress, args.force, args.variant, args.tag,
                  args.config)
    else:
        text = report(runs_dir, args.data_dir, Path(args.notes))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
