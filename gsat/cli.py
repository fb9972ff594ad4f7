r"""Command line: ``gsat train ...`` (also ``python run_gsat.py ...``).

Argument parsing only; the work is done by library functions in :mod:`gsat.runner` and
:mod:`gsat.benchmark`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from gsat.data import dataset_names
from gsat.errors import EXIT_CODES, GSATError, exit_code
from gsat.report import run_table


class UsageError(GSATError, ValueError):
    """Command-line arguments that do not go together."""

log = logging.getLogger("gsat")
SUBCOMMANDS = ("train", "benchmark", "influence")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _dataset_option(text: str) -> tuple:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", metavar="NAME",
                   help=f"dataset, one of: {', '.join(dataset_names())} (required unless "
                        "--resume is given)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the interrupted run in RUN_DIR with its own settings")
    p.add_argument("--dataset-option", type=_dataset_option, action="append", default=[],
                   metavar="KEY=VALUE", help=argparse.SUPPRESS)
    p.add_argument("--backbone", default="GIN", choices=["GIN", "PNA"], help="(default: GIN)")
    p.add_argument("--config", metavar="FILE",
                   help="YAML config (default: configs/<BACKBONE>-<dataset>.yml)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                   help="seeds run in turn (default: 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", metavar="DIR",
                   help="run folder (default: runs/<dataset>-<backbone>-<timestamp>)")
    p.add_argument("--data-dir", default="data", metavar="DIR", help="data root (default: data)")
    p.add_argument("--method", default="gsat", choices=["gsat", "erm"],
                   help="gsat, or erm: the backbone without attention (default: gsat)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard scalars and attention histograms per epoch to "
                        "<out>/seed<N>/tensorboard/ (needs: pip install tensorboard)")


def _exit_codes_epilog() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}"
                                        for code, meaning in EXIT_CODES.items())


def build_parser() -> argparse.ArgumentParser:
    epilog = _exit_codes_epilog()
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gsat", description="Interpretable graph learning with Graph Stochastic Attention "
        "(GSAT, Miao et al., ICML 2022).", epilog=epilog, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_args(sub.add_parser("train", help="train GSAT on a dataset and explain it",
                                   epilog=epilog, formatter_class=fmt))
    _add_benchmark_args(sub.add_parser(
        "benchmark", help="compare GSAT with post-hoc explainers on the same backbone",
        epilog=epilog, formatter_class=fmt))
    _add_influence_args(sub.add_parser(
        "influence", help="training graphs with the most TracIn influence on one graph "
        "(needs a run trained with train.keep_checkpoints_every)", epilog=epilog,
        formatter_class=fmt))
    return parser


def _add_influence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by 'gsat train'")
    p.add_argument("--graph", type=int, required=True, metavar="I",
                   help="index of the graph in its split")
    p.add_argument("--top", type=int, default=5, metavar="K",
                   help="proponents and opponents listed (default: 5)")
    p.add_argument("--split", default="test", choices=["test", "valid", "train"],
                   help="split of the graph (default: test)")
    p.add_argument("--seed", type=int, metavar="SEED",
                   help="which seed's model (default: the run's first)")
    p.add_argument("--out", metavar="DIR",
                   help="folder of influence-<split><I>.json/.png (default: RUN_DIR/seed<N>)")


def _add_benchmark_args(p: argparse.ArgumentParser) -> None:
    from gsat.explain.baselines import explainer_names

    names = explainer_names()
    p.add_argument("--dataset", required=True, metavar="NAME",
                   help=f"dataset, one of: {', '.join(dataset_names())}")
    p.add_argument("--backbone", default="GIN", choices=["GIN", "PNA"], help="(default: GIN)")
    p.add_argument("--explainers", nargs="+", default=names, choices=names, metavar="NAME",
                   help=f"explainers, any of: {', '.join(names)} (default: all)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                   help="seeds (default: 0)")
    p.add_argument("--config", metavar="FILE",
                   help="YAML config (default: configs/<BACKBONE>-<dataset>.yml)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs")
    p.add_argument("--out", metavar="DIR",
                   help="output folder; trained models found there are reused "
                        "(default: runs/benchmark-<dataset>-<backbone>)")
    p.add_argument("--data-dir", default="data", metavar="DIR", help="data root (default: data)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--explainer-epochs", type=int, metavar="N",
                   help="epochs of GNNExplainer, GraphMask and PGExplainer (default: their "
                        "published defaults 100, 100, 30)")
    p.add_argument("--max-graphs", type=int, metavar="N", help="explain only N test graphs")
    p.add_argument("--tune", action="store_true",
                   help="also tune every post-hoc explainer over its grid (at most 8 settings) "
                        "on the validation graphs and report the chosen setting on the test "
                        "graphs as <name>+tuned, beside the default row")
    p.add_argument("--tune-graphs", type=int, metavar="N",
                   help="validation graphs explained per setting when tuning (default: all "
                        "with ground truth)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def format_table(results: Dict[str, Any]) -> str:
    """A small markdown table of a run's results (one row per seed, plus mean ± std)."""
    return run_table(results)


#: options of ``gsat train`` that may accompany ``--resume``
_RESUME_COMPATIBLE = ("resume", "no_progress", "command")


def _train(args: argparse.Namespace) -> int:
    from gsat.runner import RunSpec, resume_spec, run

    if args.resume is not None:
        defaults = vars(build_parser().parse_args(["train", "--resume", args.resume]))
        extra = sorted(k for k, v in vars(args).items()
                       if k not in _RESUME_COMPATIBLE and v != defaults.get(k))
        if extra:
            raise UsageError("--resume continues a run with its own settings; drop "
                             + ", ".join("--" + k.replace("_", "-") for k in extra))
        spec = resume_spec(args.resume, progress=not args.no_progress)
    else:
        if args.dataset is None:
            raise UsageError("--dataset is required (or --resume RUN_DIR to continue a run); "
                             f"datasets: {', '.join(dataset_names())}")
        spec = RunSpec(dataset=args.dataset, backbone=args.backbone, config=args.config,
                       epochs=args.epochs, seeds=args.seeds, device=args.device, out=args.out,
                       data_dir=args.data_dir, method=args.method,
                       progress=not args.no_progress,
                       dataset_options=dict(args.dataset_option),
                       tensorboard=args.tensorboard)
    results = run(spec)
    print(f"\n{results['method']} on {results['dataset']} with {results['backbone']} "
          f"(scores x100):\n")
    print(format_table(results))
    print(f"\nresults, config, checkpoints and pictures: {results['out_dir']}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from gsat.benchmark import BenchmarkSpec, run_benchmark

    spec = BenchmarkSpec(dataset=args.dataset, backbone=args.backbone,
                         explainers=args.explainers, seeds=args.seeds, out=args.out,
                         epochs=args.epochs, data_dir=args.data_dir, device=args.device,
                         config=args.config, explainer_epochs=args.explainer_epochs,
                         max_graphs=args.max_graphs, threads=args.threads,
                         progress=not args.no_progress, tune=args.tune,
                         tune_graphs=args.tune_graphs)
    result = run_benchmark(spec)
    print((Path(result["out_dir"]) / "benchmark.md").read_text())
    print(f"results: {result['out_dir']}/benchmark.json")
    return 0


def _influence(args: argparse.Namespace) -> int:
    from gsat.influence import influence

    rec = influence(args.run_dir, args.graph, top=args.top, seed=args.seed, split=args.split,
                    out=args.out)
    print(f"TracIn on {rec['split']} graph {rec['graph']} of {rec['dataset']} (seed "
          f"{rec['seed']}, target {rec['target']}, {len(rec['checkpoints'])} checkpoints)")
    for key in ("proponents", "opponents"):
        print(f"{key}: " + ", ".join(f"#{e['index']} (label {e['label']}, {e['score']:.4g})"
                                     for e in rec[key]))
    print(f"results: {rec['json']}\npicture: {rec['png']}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> None:
    r"""Entry point of the ``gsat`` console script and of ``run_gsat.py``.

    Without a subcommand, the arguments are those of ``gsat train``. Every failure ends with
    one line on stderr and the exit code of :func:`gsat.errors.exit_code`: 2 for input
    mistakes (bad argument, config, file, name, graph or checkpoint), 1 for a failure with
    valid input (disk full or unwritable, a loss that became NaN or infinite), 130 for Ctrl-C
    and 143 for SIGTERM (both say how to resume).
    """
    argv: List[str] = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["train"] + argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = {"train": _train, "benchmark": _benchmark,
                "influence": _influence}[args.command](args)
    except (KeyboardInterrupt, GSATError, FloatingPointError, OSError) as exc:
        if isinstance(exc, KeyboardInterrupt):
            print(f"gsat: {exc}" if str(exc) else "gsat: interrupted", file=sys.stderr)
        else:
            print(f"gsat: error: {exc}", file=sys.stderr)
        sys.exit(exit_code(exc))
    sys.exit(code)
