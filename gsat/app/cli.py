r"""Command line: ``gsat train ...`` (also ``python run_gsat.py ...``).

Argument parsing only; the work is done by library functions in :mod:`gsat.training.driver` and
:mod:`gsat.benchmark`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from gsat.app.flags import (UsageError, add_dataset_option, add_device, add_own_data,
                            add_progress, add_threads, add_training, epochs_flag,
                            own_data_options, path_flag)
from gsat.data import check_dataset_name, dataset_names
from gsat.errors import (EXIT_CODES, EXIT_INTERRUPTED, EXIT_TERMINATED, GSATError,
                         Terminated, exit_code)
from gsat.metrics.summary import run_table


log = logging.getLogger("gsat")
SUBCOMMANDS = ("train", "benchmark", "explain", "influence")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", metavar="NAME",
                   help=f"dataset, one of: {', '.join(dataset_names())}; or csv:PATH "
                        "(molecules, see --smiles-col) or pyg:PATH (a torch.save'd list of "
                        "PyG Data or an InMemoryDataset folder) (required unless --resume "
                        "is given)")
    p.add_argument("--resume", type=path_flag, metavar="RUN_DIR",
                   help="continue the interrupted run in RUN_DIR with its own settings")
    add_dataset_option(p)
    add_training(p)
    add_device(p)
    p.add_argument("--devices", nargs="+", metavar="DEVICE",
                   help="train the seeds in parallel, one process per seed and at most one "
                        "per listed device at a time, e.g. cuda:0 cuda:1 (or cpu cpu); "
                        "replaces --device")
    p.add_argument("--out", type=path_flag, metavar="DIR",
                   help="run folder (default: runs/<dataset>-<backbone>-<timestamp>)")
    p.add_argument("--method", default="gsat", choices=["gsat", "erm", "gmt_lin", "gmt_sam"],
                   help="gsat (with the config's gsat.method), erm: the backbone without "
                        "attention, or GMT's estimators gmt_lin (the first layer gated) and "
                        "gmt_sam (K sampled subgraphs; K and the second stage in the config's "
                        "gmt section) (default: gsat)")
    add_progress(p)
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard scalars and attention histograms per epoch to "
                        "<out>/seed<N>/tensorboard/ (needs: pip install tensorboard)")
    add_own_data(p)
    add_threads(p)


#: what 130 and 143 mean for the commands that train nothing (``explain``, ``influence``)
_NOT_RESUMABLE = {EXIT_INTERRUPTED: "interrupted by Ctrl-C (SIGINT); nothing to resume: run "
                                    "the command again",
                  EXIT_TERMINATED: "terminated by SIGTERM; nothing to resume: run the command "
                                   "again"}


def _exit_codes_epilog(command: Optional[str] = None) -> str:
    """The exit codes of :obj:`command` (all commands when :obj:`None`): interrupted
    ``explain`` and ``influence`` have no epochs to keep or resume."""
    codes = dict(EXIT_CODES)
    if command in ("explain", "influence"):
        codes.update(_NOT_RESUMABLE)
    elif command is None:
        codes = {k: v + (" (train, benchmark)" if k in _NOT_RESUMABLE else "")
                 for k, v in codes.items()}
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}"
                                        for code, meaning in codes.items())


#: examples shown by ``--help`` (per subcommand, and all of them for ``gsat --help``)
EXAMPLES: Dict[str, List[str]] = {
    "train": [
        "gsat train --dataset ba_2motifs --epochs 2              # a quick first run",
        "gsat train --dataset mutag --backbone PNA --seeds 0 1 2",
        "gsat train --dataset ba_2motifs --config my.yml --out runs/mine",
        "gsat train --resume runs/ba_2motifs-GIN-20260101-120000",
        "gsat train --dataset csv:mols.csv --smiles-col smiles --label-col active",
        "gsat train --dataset pyg:graphs.pt --epochs 50",
    ],
    "explain": [
        "gsat explain runs/csv_mols-GIN-20260101-120000 --input new.csv --out expl",
        "gsat explain runs/pyg_graphs-GIN-20260101-120000 --input more_graphs.pt",
    ],
    "benchmark": [
        "gsat benchmark --dataset ba_2motifs --explainers gsat gnnexplainer --seeds 0 1",
    ],
}


def _epilog(*commands: str) -> str:
    lines = [line for c in commands for line in EXAMPLES.get(c, [])]
    examples = "examples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\n" if lines else ""
    return examples + _exit_codes_epilog(commands[0] if len(commands) == 1 else None)


def build_parser() -> argparse.ArgumentParser:
    from gsat import __version__

    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gsat", description="Interpretable graph learning with Graph Stochastic Attention "
        "(GSAT, Miao et al., ICML 2022).", epilog=_epilog(*EXAMPLES), formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"gsat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_args(sub.add_parser("train", help="train GSAT on a dataset and explain it",
                                   epilog=_epilog("train"), formatter_class=fmt))
    _add_benchmark_args(sub.add_parser(
        "benchmark", help="compare GSAT with post-hoc explainers on the same backbone",
        epilog=_epilog("benchmark"), formatter_class=fmt))
    _add_explain_args(sub.add_parser(
        "explain", help="predict and explain new graphs with a trained run",
        epilog=_epilog("explain"), formatter_class=fmt))
    _add_influence_args(sub.add_parser(
        "influence", help="training graphs with the most TracIn influence on one graph "
        "(needs a run trained with train.keep_checkpoints_every)", epilog=_epilog("influence"),
        formatter_class=fmt))
    return parser


def _add_influence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=path_flag, metavar="RUN_DIR",
                   help="a run folder written by 'gsat train'")
    p.add_argument("--graph", type=int, required=True, metavar="I",
                   help="index of the graph in its split")
    p.add_argument("--top", type=int, default=5, metavar="K",
                   help="proponents and opponents listed (default: 5)")
    p.add_argument("--graph-split", default="test", choices=["test", "valid", "train"],
                   help="split of the graph (default: test)")
    p.add_argument("--seed", type=int, metavar="SEED",
                   help="which seed's model (default: the run's first)")
    p.add_argument("--out", type=path_flag, metavar="DIR",
                   help="folder of influence-<split><I>.json/.png (default: RUN_DIR/seed<N>)")


def _add_benchmark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, metavar="NAME",
                   help=f"dataset, one of: {', '.join(dataset_names())}; or pyg:PATH / "
                        "csv:PATH. Graphs with edge_label ground truth are scored by "
                        "interpretation AUC and fidelity; graphs without (csv:, OGB) by "
                        "fidelity alone")
    add_dataset_option(p)
    add_training(p)
    # names checked when the command runs (gsat.explain.registry): listing them here would
    # import PyG for --help
    p.add_argument("--explainers", nargs="+", default=None, metavar="NAME",
                   help="registered explainers (gsat.explain.explainer_names(); an unknown "
                        "name lists them) (default: all registered)")
    p.add_argument("--out", type=path_flag, metavar="DIR",
                   help="output folder; trained models found there are reused "
                        "(default: runs/benchmark-<dataset>-<backbone>)")
    add_device(p)
    p.add_argument("--method", default="gsat", choices=["gsat", "gmt_lin", "gmt_sam"],
                   help="the estimator GSAT's model trains with: gsat (the config's "
                        "gsat.method), gmt_lin or gmt_sam (default: gsat)")
    p.add_argument("--explainer-epochs", type=epochs_flag, metavar="N",
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
    add_threads(p)
    add_progress(p)
    add_own_data(p)


#: pictures ``gsat explain`` draws unless --max-pictures says otherwise
DEFAULT_MAX_PICTURES = 20


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def _add_explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=path_flag, metavar="RUN_DIR",
                   help="a run folder written by 'gsat train'")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", type=path_flag, metavar="FILE",
                      help="graphs to explain: a CSV of SMILES (runs on molecules) or a "
                           "torch.save'd list of PyG Data / InMemoryDataset folder")
    what.add_argument("--node", type=int, nargs="+", metavar="V",
                      help="nodes of the graph a node-classification run was trained on "
                           "(writes node_<V>.json and .png)")
    p.add_argument("--out", type=path_flag, metavar="DIR",
                   help="output folder (default: RUN_DIR/explain-<input name>)")
    p.add_argument("--seed", type=int, metavar="SEED",
                   help="which seed's model (default: the best validation metric)")
    p.add_argument("--smiles-col", default="smiles", metavar="NAME",
                   help="CSV column of the SMILES (default: smiles)")
    p.add_argument("--id-col", default="id", metavar="NAME",
                   help="CSV column of graph ids, if present (default: id; else row numbers)")
    add_device(p)
    p.add_argument("--no-pictures", action="store_true", help="do not draw PNGs")
    p.add_argument("--max-pictures", type=_count, default=DEFAULT_MAX_PICTURES, metavar="N",
                   help="draw the first N explained graphs only (default: "
                        f"{DEFAULT_MAX_PICTURES}; drawing takes about ten times as long as "
                        "explaining)")
    p.add_argument("--no-fidelity", action="store_true",
                   help="--input: do not compute fidelity.json and fidelity_curves.csv "
                        "(fid+/fid-, unfaithfulness, deletion/insertion curves of the "
                        "attention; about 25 extra forward passes per batch of graphs)")
    p.add_argument("--scale", choices=("relative", "rank", "absolute"), default="relative",
                   help="colours of the pictures: relative to each graph's lowest and highest "
                        "attention, by rank within the graph, or attention 0-1 for all "
                        "(default: relative)")
    p.add_argument("--top-k", type=_count, metavar="K",
                   help="colour only the K edges (bonds) of highest attention in each picture "
                        "(default: all)")
    p.add_argument("--html", action="store_true",
                   help="also write explanations.html: one self-contained page with a "
                        "sortable table of the graphs, their pictures and the colour legend")
    p.add_argument("--no-substructures", action="store_true",
                   help="molecules: do not write substructures.csv/.md/.png (the attention "
                        "aggregated over functional groups and ring systems)")
    add_progress(p)


#: options of ``gsat train`` that may accompany ``--resume``
_RESUME_COMPATIBLE = ("resume", "no_progress", "threads")


def given_flags(argv: Sequence[str]) -> List[str]:
    r"""The options of ``gsat train`` present in :obj:`argv` (its arguments after the
    subcommand), by their destination, whatever their values: the parser is built again
    with every default replaced by :data:`argparse.SUPPRESS`, so an option appears in the
    result only when it was given (``--seeds 0`` too, although 0 is the default)."""
    p = _Parser(prog="gsat train")
    _add_train_args(p)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return sorted(vars(p.parse_args(list(argv))))


def _train(args: argparse.Namespace) -> int:
    from gsat.core.config import load_config

    if args.resume is not None:
        extra = [k for k in given_flags(getattr(args, "argv", []))
                 if k not in _RESUME_COMPATIBLE]
        if extra:
            raise UsageError("--resume continues a run with its own settings; drop "
                             + ", ".join("--" + k.replace("_", "-") for k in extra))
        from gsat.training.driver import resume_spec

        spec = resume_spec(args.resume, progress=not args.no_progress)
    else:
        if args.dataset is None:
            raise UsageError("--dataset is required (or --resume RUN_DIR to continue a run); "
                             f"datasets: {', '.join(dataset_names())}")
        if args.config is not None:  # a mistake in it is reported before PyTorch loads
            load_config(args.config)
        from gsat.training.driver import RunSpec

        spec = RunSpec(dataset=args.dataset, backbone=args.backbone, config=args.config,
                       epochs=args.epochs, seeds=args.seeds, device=args.device, out=args.out,
                       data_dir=args.data_dir, method=args.method,
                       progress=not args.no_progress,
                       dataset_options={**dict(args.dataset_option),
                                        **own_data_options(args)},
                       tensorboard=args.tensorboard, devices=args.devices)
    import torch

    from gsat.training.distributed import launched
    from gsat.training.driver import run

    torch.set_num_threads(args.threads)
    with launched(spec.device) as dist:  # a torchrun launch: one process of a DDP run
        results = run(spec)
    if dist is not None and not dist.is_main:
        return 0
    out = results["out_dir"]
    try:
        scale = ("scores x100; RMSE and MAE in the target's unit"
                 if results.get("metric_name") in ("rmse", "mae") else "scores x100")
        print(f"\n{results['method']} on {results['dataset']} with {results['backbone']} "
              f"({scale}):\n")
        print(run_table(results))
        print(f"\nresults, config, checkpoints and pictures: {out}")
    except KeyboardInterrupt as exc:  # the run is complete: resuming prints it again
        raise _interrupted(exc, f"after the run finished; everything is saved in {out}. "
                                f"Resume with: gsat train --resume {out}") from None
    return 0


def _interrupted(exc: KeyboardInterrupt, message: str) -> KeyboardInterrupt:
    """:obj:`exc`'s kind (Ctrl-C, or SIGTERM as :class:`gsat.errors.Terminated`) with the
    one line :func:`main` prints."""
    if isinstance(exc, Terminated):
        return Terminated(f"terminated (SIGTERM) {message}")
    return KeyboardInterrupt(f"interrupted {message}")


def _benchmark(args: argparse.Namespace) -> int:
    from gsat.benchmark import BenchmarkSpec, run_benchmark
    from gsat.runs.layout import RunFolder
    from gsat.training.distributed import refuse_launch
    from gsat.explain.registry import default_explainers

    refuse_launch("benchmark")

    spec = BenchmarkSpec(dataset=args.dataset, backbone=args.backbone,
                         explainers=args.explainers or default_explainers(),
                         seeds=args.seeds, out=args.out,
                         epochs=args.epochs, data_dir=args.data_dir, device=args.device,
                         config=args.config, explainer_epochs=args.explainer_epochs,
                         max_graphs=args.max_graphs, threads=args.threads,
                         progress=not args.no_progress, tune=args.tune,
                         tune_graphs=args.tune_graphs, method=args.method,
                         dataset_options={**dict(args.dataset_option),
                                          **own_data_options(args)})
    try:
        result = run_benchmark(spec)
        print(RunFolder(result["out_dir"]).benchmark_md.read_text())
        print(f"results: {result['out_dir']}/benchmark.json")
    except KeyboardInterrupt as exc:
        raise _interrupted(exc, "during the benchmark; finished models, records and tuning "
                                "trials are kept in its folder: run the same gsat benchmark "
                                "command again to continue") from None
    return 0


def _explain(args: argparse.Namespace) -> int:
    from gsat.training.distributed import refuse_launch
    from gsat.app.inference import explain_file, stdout_summary

    refuse_launch("explain")
    if args.node is not None:
        return _explain_nodes(args)
    summary = explain_file(args.run_dir, args.input, args.out, seed=args.seed,
                           smiles_col=args.smiles_col, id_col=args.id_col, device=args.device,
                           pictures=not args.no_pictures, progress=not args.no_progress,
                           max_pictures=args.max_pictures, fidelity=not args.no_fidelity,
                           scale=args.scale, top_k=args.top_k, html=args.html,
                           substructures=not args.no_substructures)
    print(stdout_summary(summary))
    return 0


def _explain_nodes(args: argparse.Namespace) -> int:
    from gsat.app.explain_nodes import explain_nodes

    records = explain_nodes(args.run_dir, args.node, args.out, seed=args.seed,
                            device=args.device, pictures=not args.no_pictures)
    out = Path(args.out) if args.out else Path(args.run_dir) / "explain-nodes"
    for r in records:
        top = sorted(r["edges"], key=lambda e: -e["attention"])[:5]
        print(f"node {r['node']} ({r['split']} split): label {r['label']}, predicted "
              f"{r['prediction']} (p = {r['probability']:.3f}); highest attention: "
              + ", ".join(f"{e['source']}-{e['target']} {e['attention']:.2f}" for e in top))
    fid = [r["fidelity"] for r in records]
    print(f"fidelity (top 20 % of each subgraph's edges): fid+ "
          f"{sum(f['fid_plus'] for f in fid) / len(fid):.2f}, fid- "
          f"{sum(f['fid_minus'] for f in fid) / len(fid):.2f} ({out}/fidelity.json)")
    print(f"{len(records)} node(s) explained: {out}/node_<V>.json, node_<V>.png")
    return 0


def _influence(args: argparse.Namespace) -> int:
    from gsat.app.influence import influence

    rec = influence(args.run_dir, args.graph, top=args.top, seed=args.seed,
                    split=args.graph_split, out=args.out)
    print(f"TracIn on {rec['split']} graph {rec['graph']} of {rec['dataset']} (seed "
          f"{rec['seed']}, target {rec['target']}, {len(rec['checkpoints'])} checkpoints)")
    for key in ("proponents", "opponents"):
        print(f"{key}: " + ", ".join(f"#{e['index']} (label {e['label']}, {e['score']:.4g})"
                                     for e in rec[key]))
    print(f"results: {rec['json']}\npicture: {rec['png']}")
    return 0


def use_huge_pages() -> None:
    r"""Ask PyTorch to back large CPU tensors (2 MB and more) with transparent huge pages
    (``THP_MEM_ALLOC_ENABLE=1``), unless the variable is set already. PyTorch reads it once,
    at its first allocation, so this only takes effect before ``import torch``; the command
    line calls it first. On one graph of 1e6 edges a GIN training step took 30 % less CPU
    time with GSAT and about half with ERM (``benchmarks/results/scale.md``); tensors below
    2 MB, and systems without transparent huge pages, are not affected."""
    if "torch" not in sys.modules:
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def _check_dataset_first(argv: Sequence[str]) -> None:
    """Refuse an unknown ``--dataset`` of ``train`` or ``benchmark`` (one line, the closest
    name, exit code 2) before the full parser runs: its flag types load PyTorch, which takes
    seconds."""
    if not argv or argv[0] not in ("train", "benchmark"):
        return
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--dataset")
    known, _ = p.parse_known_args(list(argv[1:]))
    if isinstance(known.dataset, str) and known.dataset:
        try:
            check_dataset_name(known.dataset)
        except GSATError as exc:
            print(f"gsat: error: {exc}", file=sys.stderr)
            sys.exit(exit_code(exc))


def main(argv: Optional[Sequence[str]] = None) -> None:
    r"""Entry point of the ``gsat`` console script and of ``run_gsat.py``.

    Without a subcommand, the arguments are those of ``gsat train``. Every failure ends with
    one line on stderr and the exit code of :func:`gsat.errors.exit_code`: 2 for input
    mistakes (bad argument, config, file, name, graph or checkpoint), 1 for a failure with
    valid input (disk full or unwritable, a loss that became NaN or infinite), 130 for Ctrl-C
    and 143 for SIGTERM (both say how to resume).
    """
    argv: List[str] = list(sys.argv[1:] if argv is None else argv)
    use_huge_pages()
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help",
                                                                    "--version")):
        argv = ["train"] + argv
    _check_dataset_first(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv[1:]  # the command's own arguments, for given_flags
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from gsat.io.signals import sigterm_as_interrupt

    try:
        # SIGTERM takes the path of Ctrl-C from here to the exit, in every phase
        with sigterm_as_interrupt():
            code = {"train": _train, "benchmark": _benchmark,
                    "explain": _explain, "influence": _influence}[args.command](args)
    except (KeyboardInterrupt, GSATError, FloatingPointError, OSError) as exc:
        if isinstance(exc, KeyboardInterrupt):
            what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            print(f"gsat: {exc}" if str(exc) and str(exc) != "terminated by SIGTERM"
                  else f"gsat: {what}", file=sys.stderr)
        else:
            print(f"gsat: error: {exc}", file=sys.stderr)
        sys.exit(exit_code(exc))
    sys.exit(code)
