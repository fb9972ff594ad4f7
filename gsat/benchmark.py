r"""GSAT against post-hoc explainers on the same backbone: train (or reuse) GSAT and ERM
models per seed, explain the test graphs with every method, score all methods with one
function, and write ``benchmark.json`` and ``benchmark.md``.

The comparison is the one of Table 1 of `Miao, Liu & Li (ICML 2022)
<https://arxiv.org/abs/2201.12987>`_: post-hoc explainers read a backbone trained without
attention (ERM); GSAT reads its own attention; both are scored by the interpretation ROC AUC
over all test edges pooled and by precision@5 against the same ground truth.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

from gsat.checkpoint import load_checkpoint, load_state_checked
from gsat.config import Config, save_config
from gsat.data import GraphDataset, load_dataset
from gsat.errors import ConfigError, DataMissingError
from gsat.validation import check_device, check_seeds
from gsat.explain.baselines import OPTIMISED, EdgeExplainer, make_explainer
from gsat.explain.metrics import ExplanationScores, score_explanations  # noqa: F401 (re-export)
from gsat.build import build_model
from gsat.report import json_safe as _json_safe
from gsat.report import markdown_table, mean_std, summarize
from gsat.runner import RunSpec, resolve_config
from gsat.train import PRECISION_K, evaluate, make_loader, train_one_seed

log = logging.getLogger(__name__)

#: Interpretation ROC AUC x100 (mean, std) published by Miao et al. (ICML 2022), Table 1,
#: keyed by dataset registry name, then explainer registry name. GSAT's value depends on the
#: backbone ("gsat:GIN", "gsat:PNA"); the post-hoc baselines were run on GIN there.
PUBLISHED: Dict[str, Dict[str, tuple]] = {
    "ba_2motifs": {"gnnexplainer": (67.35, 3.29), "pgexplainer": (84.59, 9.09),
                   "graphmask": (92.54, 8.07), "gsat:GIN": (98.74, 0.55),
                   "gsat:PNA": (93.77, 3.90)},
    "mutag": {"gnnexplainer": (61.98, 5.45), "pgexplainer": (60.91, 17.10),
              "graphmask": (62.23, 9.01), "gsat:GIN": (99.60, 0.51),
              "gsat:PNA": (99.07, 0.50)},
    "spmotif_0.5": {"gnnexplainer": (62.62, 1.35), "pgexplainer": (69.54, 5.64),
                    "graphmask": (72.06, 5.58), "gsat:GIN": (78.45, 3.12),
                    "gsat:PNA": (83.34, 2.17)},
    "spmotif_0.7": {"gnnexplainer": (62.25, 3.61), "pgexplainer": (72.33, 9.18),
                    "graphmask": (73.06, 4.91), "gsat:GIN": (74.07, 5.28),
                    "gsat:PNA": (86.94, 4.05)},
    "spmotif_0.9": {"gnnexplainer": (58.86, 1.93), "pgexplainer": (72.34, 2.91),
                    "graphmask": (66.68, 6.96), "gsat:GIN": (71.97, 4.41),
                    "gsat:PNA": (88.66, 2.44)},
}
PUBLISHED_SOURCE = "Miao, Liu & Li, ICML 2022 (arXiv:2201.12987), Table 1"
#: Prediction metric x100 of GSAT published by Miao et al. (ICML 2022), Table 3 (test
#: accuracy on Spurious-Motif), keyed by dataset registry name, then "gsat:<BACKBONE>";
#: means only (the spread over seeds is not recorded here).
PUBLISHED_PREDICTION: Dict[str, Dict[str, float]] = {
    "spmotif_0.5": {"gsat:GIN": 52.74, "gsat:PNA": 68.74},
    "spmotif_0.7": {"gsat:GIN": 49.12, "gsat:PNA": 64.38},
    "spmotif_0.9": {"gsat:GIN": 44.22, "gsat:PNA": 57.01},
}
#: explanation passes are repeated until this many seconds were timed (median pass reported)
MIN_TIMED_SECONDS = 2.0
#: per-(method, seed) fields summarised by mean and std
SUMMARY_FIELDS = ("test_interp_auc", "test_precision_at_5", "test_metric", "explain_seconds",
                  "graphs_per_second", "fit_seconds")


@dataclass
class BenchmarkSpec:
    """What ``gsat benchmark`` runs: everything the command line can set."""

    dataset: str
    backbone: str = "GIN"
    explainers: List[str] = field(
        default_factory=lambda: ["gsat", "gnnexplainer", "graphmask", "ig", "pgexplainer"])
    seeds: List[int] = field(default_factory=lambda: [0])
    out: Optional[str] = None
    epochs: Optional[int] = None
    data_dir: str = "data"
    device: str = "cpu"
    config: Optional[str] = None
    explainer_epochs: Optional[int] = None
    """Overrides the optimisation epochs of GNNExplainer, GraphMask and PGExplainer."""
    max_graphs: Optional[int] = None
    """Explain only the first N test graphs."""
    threads: Optional[int] = None
    """torch threads while the benchmark runs (torch's default if None)."""
    progress: bool = True
    dataset_options: Dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _threads(n: Optional[int]) -> Iterator[None]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _explainer_settings(name: str, spec: BenchmarkSpec) -> Dict[str, Any]:
    return {"epochs": spec.explainer_epochs} if (
        spec.explainer_epochs is not None and name in OPTIMISED) else {}


def trained_model(cfg: Config, ds: GraphDataset, seed: int, out_dir: Path, method: str,
                  device: str, progress: bool = True,
                  dataset_options: Optional[Dict[str, Any]] = None) -> tuple:
    r"""The model of :obj:`method` (``"gsat"`` or ``"erm"``) for :obj:`seed`: loaded from
    :obj:`out_dir/best.pt` and :obj:`out_dir/record.json` when they were written with the
    same config, dataset and dataset options, trained with
    :func:`gsat.train.train_one_seed` otherwise.

    Returns:
        (torch.nn.Module, dict, bool): the model in eval mode, its training record, and
        whether it was reused.
    """
    model = build_model(cfg, ds, method).to(device)
    ckpt_path, rec_path = out_dir / "best.pt", out_dir / "record.json"
    key = {"dataset": ds.name, "dataset_options": dict(dataset_options or {}), "seed": seed,
           "method": method}
    if ckpt_path.exists() and rec_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device, kind="best")
        saved = json.loads(rec_path.read_text())
        if ckpt.get("config") == cfg.to_dict() and saved.get("key") == _json_safe(key):
            load_state_checked(model, ckpt["model"], str(ckpt_path))
            log.info("reusing the %s model in %s", method, out_dir)
            return model.eval(), saved["record"], True
        log.info("%s was trained with another config or data; training again", ckpt_path)
    record = train_one_seed(cfg, ds, seed, out_dir, device, method, progress)
    rec_path.write_text(json.dumps(_json_safe({"key": key, "record": record}), indent=2))
    load_state_checked(model, load_checkpoint(ckpt_path, map_location=device, kind="best")["model"],
                       str(ckpt_path))
    return model.eval(), record, False


def explain_and_score(explainer: EdgeExplainer, model: nn.Module, ds: GraphDataset,
                      graphs: Sequence[Data], device: str = "cpu",
                      progress: bool = False) -> Dict[str, Any]:
    r"""Fit :obj:`explainer` if it learns (on :obj:`ds.train`), explain :obj:`graphs`, and
    score the explanations (:func:`score_explanations`) and the explained model's prediction
    metric on the test split (:func:`gsat.train.evaluate`).

    Returns:
        dict: :obj:`test_interp_auc`, :obj:`test_precision_at_5`, :obj:`test_metric`,
        :obj:`explain_seconds` (whole list of graphs; the median of :obj:`timed_passes`
        passes when one pass takes less than :data:`MIN_TIMED_SECONDS`),
        :obj:`graphs_per_second`, :obj:`fit_seconds`, :obj:`num_graphs`, :obj:`num_edges`,
        :obj:`timed_passes`.
    """
    fit_seconds = 0.0
    if explainer.needs_fit:
        start = time.perf_counter()
        explainer.fit(model, ds.train, ds.task, device, progress)
        fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = explainer.explain(model, graphs, ds.task, device, progress)
    seconds = time.perf_counter() - start
    # A pass shorter than MIN_TIMED_SECONDS is timed again until that much time has been
    # measured, and the median pass counts: one sub-second timing on a shared machine is
    # mostly noise. The scores are those of the first pass.
    timings = [seconds]
    while sum(timings) < MIN_TIMED_SECONDS and len(timings) < 100:
        start = time.perf_counter()
        explainer.explain(model, graphs, ds.task, device, False)
        timings.append(time.perf_counter() - start)
    seconds = statistics.median(timings)
    sc = score_explanations(scores, graphs, PRECISION_K)
    pred = evaluate(model, make_loader(ds.test, 128), ds.task, ds.metric,
                    torch.device(device), PRECISION_K)
    return {"test_interp_auc": sc.interp_auc, "test_precision_at_5": sc.precision_at_k,
            "test_metric": pred.metric, "explain_seconds": seconds,
            "graphs_per_second": sc.num_graphs / seconds if seconds > 0 else math.inf,
            "fit_seconds": fit_seconds, "num_graphs": sc.num_graphs, "num_edges": sc.num_edges,
            "timed_passes": len(timings)}


def summarize_records(records: List[Dict[str, Any]]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per method: mean and (population) std over seeds of :data:`SUMMARY_FIELDS`
    (:func:`gsat.report.summarize` grouped by method)."""
    return summarize(records, SUMMARY_FIELDS, by="method")


def published_value(dataset: str, backbone: str, method: str) -> Optional[tuple]:
    """Published interpretation AUC x100 (mean, std) of :obj:`method`, if any."""
    table = PUBLISHED.get(dataset, {})
    return table.get(f"{method}:{backbone}", table.get(method))


def run_benchmark(spec: BenchmarkSpec) -> Dict[str, Any]:
    r"""Train or reuse GSAT and ERM models per seed, explain the interpretation test graphs
    (:attr:`GraphDataset.interp_test` if set, else :attr:`GraphDataset.test`) with every
    explainer, and write ``benchmark.json`` (one record per method and seed, plus summary
    and settings) and ``benchmark.md`` into :obj:`spec.out`.

    Layout of the output folder: ``gsat/seed<N>/`` and ``erm/seed<N>/`` hold the trained
    models (``best.pt``, ``record.json``, ...), reused by later runs with the same config.

    Returns:
        dict: the content of ``benchmark.json`` plus :obj:`out_dir`.
    """
    for name in spec.explainers:
        make_explainer(name, **_explainer_settings(name, spec))  # unknown names fail early
    check_seeds(spec.seeds)
    check_device(spec.device)
    if spec.max_graphs is not None and spec.max_graphs < 1:
        raise ConfigError(f"--max-graphs must be >= 1, got {spec.max_graphs}")
    from gsat.data.custom import dataset_label

    out = Path(spec.out) if spec.out else \
        Path("runs") / f"benchmark-{dataset_label(spec.dataset)}-{spec.backbone}"
    out.mkdir(parents=True, exist_ok=True)
    records: List[Dict[str, Any]] = []
    settings: Dict[str, Dict[str, Any]] = {}
    result: Dict[str, Any] = {}
    with _threads(spec.threads):
        bar = tqdm(total=len(spec.seeds) * len(spec.explainers), desc="benchmark",
                   disable=not spec.progress, dynamic_ncols=True)
        for seed in spec.seeds:
            ds = load_dataset(spec.dataset, spec.data_dir, seed=seed, **spec.dataset_options)
            if not ds.has_ground_truth:
                raise DataMissingError(f"dataset {spec.dataset} has no ground-truth edges to "
                                       "score explanations against")
            graphs = list(ds.interp_test if ds.interp_test is not None else ds.test)
            if spec.max_graphs is not None:
                graphs = graphs[: spec.max_graphs]
            run_spec = RunSpec(dataset=spec.dataset, backbone=spec.backbone, config=spec.config,
                               epochs=spec.epochs, device=spec.device)
            cfg = resolve_config(run_spec, ds.config_name)
            save_config(cfg, out / "config.yml")
            models: Dict[str, tuple] = {}
            for name in spec.explainers:
                explainer = make_explainer(name, **_explainer_settings(name, spec))
                kind = explainer.model_kind
                if kind not in models:
                    models[kind] = trained_model(cfg, ds, seed, out / kind / f"seed{seed}", kind,
                                                 spec.device, spec.progress,
                                                 spec.dataset_options)
                model, train_rec, reused = models[kind]
                bar.set_postfix(seed=seed, method=name)
                torch.manual_seed(seed)
                rec = {"method": name, "seed": seed, "model": kind,
                       **explain_and_score(explainer, model, ds, graphs, spec.device,
                                           spec.progress),
                       "model_best_epoch": train_rec.get("best_epoch"),
                       "model_reused": reused, "settings": dict(explainer.settings)}
                settings[name] = {"explains": kind, **explainer.settings}
                records.append(rec)
                bar.update(1)
                result = {
                    "dataset": spec.dataset, "backbone": spec.backbone,
                    "metric_name": ds.metric, "explainers": spec.explainers,
                    "seeds": spec.seeds, "epochs": cfg.train.epochs, "device": spec.device,
                    "torch_threads": torch.get_num_threads(),
                    "torch_version": torch.__version__, "max_graphs": spec.max_graphs,
                    "settings": settings, "records": records,
                    "summary": summarize_records(records),
                    "published": {m: published_value(spec.dataset, spec.backbone, m)
                                  for m in spec.explainers},
                    "published_source": PUBLISHED_SOURCE,
                    "spec": asdict(spec)}
                (out / "benchmark.json").write_text(json.dumps(_json_safe(result), indent=2))
        bar.close()
    (out / "benchmark.md").write_text(format_markdown(result))
    result["out_dir"] = str(out)
    return result


def _ms(summary: Dict[str, Any], key: str, scale: float = 100.0, digits: int = 2) -> str:
    return mean_std(summary, key, scale, digits)


def throughput_ratio(result: Dict[str, Any], a: str = "gsat",
                     b: str = "gnnexplainer") -> Optional[float]:
    """Mean graphs/second of :obj:`a` over that of :obj:`b` in one benchmark result."""
    summ = result.get("summary", {})
    try:
        return summ[a]["mean"]["graphs_per_second"] / summ[b]["mean"]["graphs_per_second"]
    except (KeyError, ZeroDivisionError):
        return None


def format_markdown(result: Dict[str, Any]) -> str:
    r"""``benchmark.md``: one row per method with interpretation AUC, precision@5 and the
    explained model's prediction metric (x100, mean ± std over seeds), the published AUC,
    seconds to explain the test graphs and graphs per second."""
    metric = result["metric_name"]
    n = result["records"][0]["num_graphs"] if result["records"] else 0
    lines = [f"# Explainers on {result['dataset']} with {result['backbone']}", "",
             f"Seeds {result['seeds']}, {result['epochs']} training epochs, {n} explained "
             f"test graphs, device {result['device']}, {result['torch_threads']} torch "
             f"thread(s). Scores x100, mean ± std over seeds. Post-hoc methods explain the "
             f"backbone trained without attention (ERM); GSAT explains itself.", "",
             ]
    head = ["method", "explains", "interp AUC", "published AUC", "prec@5",
            f"model test {metric}", "s to explain", "graphs/s"]
    rows = []
    for method, summ in result["summary"].items():
        pub = result["published"].get(method)
        rows.append([method, result["settings"][method]["explains"],
                     _ms(summ, "test_interp_auc"), f"{pub[0]:.2f} ± {pub[1]:.2f}" if pub else "–",
                     _ms(summ, "test_precision_at_5"), _ms(summ, "test_metric"),
                     _ms(summ, "explain_seconds", 1.0, 3), _ms(summ, "graphs_per_second", 1.0, 1)])
    lines += markdown_table(head, rows).splitlines()
    ratio = throughput_ratio(result)
    if ratio is not None:
        lines += ["", f"GSAT explains {ratio:,.0f}x more graphs per second than GNNExplainer "
                      "in this run."]
    lines += ["", f"Published values: {result['published_source']}.", "",
              "Settings: " + "; ".join(
                  f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items())
                  for k, v in result["settings"].items()), ""]
    return "\n".join(lines)
