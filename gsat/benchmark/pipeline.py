r"""GSAT against post-hoc explainers on the same backbone: train (or reuse) GSAT and ERM
models per seed, explain the test graphs with every method, score all methods with one
function, and write ``benchmark.json`` and ``benchmark.md``.

The comparison is the one of Table 1 of `Miao, Liu & Li (ICML 2022)
<https://arxiv.org/abs/2201.12987>`_: post-hoc explainers read a backbone trained without
attention (ERM); GSAT reads its own attention; both are scored by the interpretation ROC AUC
over all test edges pooled and by precision@5 against the same ground truth. On graph
classification every method is also scored without ground truth, by the fidelity of its
edge ranking to the model it explains (:func:`gsat.explain.fidelity.graph_fidelity`: fid+,
fid-, characterization score, unfaithfulness, deletion and insertion curves), so that a
dataset without ground-truth edges (a ``csv:`` file of molecules, OGB) is compared on those
alone.

Everything a later run may reuse lies in the run folder (:mod:`gsat.runs.layout`): the
trained models (:mod:`gsat.benchmark.models`), the finished (method, seed) records in
``benchmark.json`` (each with its piece key, trained model and graph digests), and a tuning
in progress (:mod:`gsat.benchmark.tuning`).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch_geometric.data import Data
from tqdm.auto import tqdm

from gsat.benchmark.graphs import (graph_key, graphs_digest, tuning_graphs,
                                   warn_if_classes_missing)
from gsat.benchmark.models import trained_model
from gsat.benchmark.pictures import EXAMPLE_GRAPHS, write_comparison_page
from gsat.benchmark.published import published_source, published_value
from gsat.benchmark.report import format_markdown, summarize_records
from gsat.benchmark.scoring import explain_and_score
from gsat.benchmark.spec import (TUNED, BenchmarkSpec, attention_row_name, base_method,
                                 check_spec, explainer_settings, piece_key, torch_threads,
                                 tuning_grids)
from gsat.benchmark.tuning import earlier_trials, load_fit, save_fit, save_trials, tune_explainer
from gsat.training.build import task_dataset
from gsat.data import load_dataset
from gsat.data.node.subgraphs import subgraph_dataset
from gsat.errors import ConfigError, DataMissingError
from gsat.explain.fidelity import DEFAULT_KEEP, DEFAULT_STEPS, METRIC_DIRECTIONS
from gsat.explain.gsat import GSATExplainer, WholeGraphGSATExplainer
from gsat.explain.registry import TUNING_BUDGET, make_explainer
from gsat.nn.readout import center_readout
from gsat.io.files import atomic_write, write_json
from gsat.runs.layout import RunFolder, SeedFolder
from gsat.runs.records import write_config
from gsat.runs.store import discard_piece
from gsat.training.driver import RunSpec, resolve_config

log = logging.getLogger(__name__)

__all__ = ["run_benchmark"]


def merged_settings(earlier: Dict[str, Any], new: Dict[str, Any],
                     records: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The ``settings`` of ``benchmark.json`` for the methods of :obj:`records`: this run's,
    and an earlier run's for the methods and the tuned seeds this run did not cover."""
    out: Dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in records):
        if method not in new:
            out[method] = earlier.get(method, {"explains": "?"})
        elif method.endswith(TUNED) and method in earlier:
            seeds = {str(r["seed"]) for r in records if r["method"] == method}
            chosen = {sd: st for sd, st in
                      earlier[method].get("chosen_per_seed", {}).items() if sd in seeds}
            chosen.update(new[method]["chosen_per_seed"])
            out[method] = {**new[method], "chosen_per_seed": dict(sorted(chosen.items()))}
        else:
            out[method] = new[method]
    return out


@dataclass
class _Earlier:
    """What an earlier run left in the folder's ``benchmark.json``."""

    records: List[Dict[str, Any]]
    settings: Dict[str, Any]
    explainers: List[str]
    seeds: List[int]
    tuning: Optional[Dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> "_Earlier":
        empty = cls([], {}, [], [], None)
        if not path.exists():
            return empty
        try:
            saved = json.loads(path.read_text())
            return cls(list(saved.get("records", [])), dict(saved.get("settings") or {}),
                       list(saved.get("explainers") or []), list(saved.get("seeds") or []),
                       saved.get("tuning") or None)
        except (json.JSONDecodeError, AttributeError, TypeError):
            log.warning("%s is unreadable; every piece is run again", path)
            return empty

    @property
    def grids(self) -> Dict[str, Any]:
        return dict((self.tuning or {}).get("grids") or {})


@dataclass
class _Graphs:
    """The graphs of one seed: explained, tuned on, their digests, and which explained
    graphs were not tuned on (None when all or none were)."""

    test: List[Data]
    valid: List[Data]
    test_digest: Dict[str, str]
    tune_digest: Dict[str, str]
    unseen: Optional[List[bool]]

    @classmethod
    def of(cls, ds: Any, spec: BenchmarkSpec) -> "_Graphs":
        split = list(ds.interp_test if ds.interp_test is not None else ds.test)
        graphs = split[: spec.max_graphs] if spec.max_graphs is not None else split
        warn_if_classes_missing(graphs, split, "explained test", ds.task)
        valid: List[Data] = []
        if spec.tune:
            with_truth = tuning_graphs(ds)
            valid = with_truth[: spec.tune_graphs]
            warn_if_classes_missing(valid, with_truth, "tuning", ds.task)
        # Mutag's interpretation graphs (as in the paper) are all mutagens with ground
        # truth, validation graphs included: scores on the graphs not tuned on are kept too
        seen = {graph_key(g) for g in valid}
        unseen = [graph_key(g) not in seen for g in graphs] if seen else None
        if unseen is not None and all(unseen):
            unseen = None
        # a record is reused only for the same graphs (records written before the digests
        # were kept carry none and are taken as they are)
        return cls(graphs, valid, {"graphs_digest": graphs_digest(graphs)},
                   {"tuning_graphs_digest": graphs_digest(valid)}, unseen)


class _BenchmarkRun:
    """One ``gsat benchmark`` run over its seeds and pieces (see :func:`run_benchmark`)."""

    def __init__(self, spec: BenchmarkSpec):
        check_spec(spec)
        self.spec = spec
        self.grids = tuning_grids(spec) if spec.tune else {}
        from gsat.data import dataset_label

        out = Path(spec.out) if spec.out else \
            Path("runs") / f"benchmark-{dataset_label(spec.dataset)}-{spec.backbone}"
        out.mkdir(parents=True, exist_ok=True)
        self.folder = RunFolder(out)
        self.earlier = _Earlier.read(self.folder.benchmark_json)
        # each explainer's tuning follows its default row at once: the default row's fit
        # serves the tuning (its first trial), so an interruption in between loses little
        self.pieces = [(name, tuned) for name in spec.explainers
                       for tuned in ((False, True) if name in self.grids else (False,))]
        self.keys = {name + TUNED if tuned else name: piece_key(spec, name, tuned, self.grids)
                     for name, tuned in self.pieces}
        self.names = list(dict.fromkeys(self.earlier.explainers + spec.explainers))
        self.order = {m: i for i, m in enumerate(self.names + [n + TUNED for n in self.names])}
        self.records: List[Dict[str, Any]] = []
        self.settings: Dict[str, Dict[str, Any]] = {}
        self.result: Dict[str, Any] = {}
        # (seed, kind) of the models this run trained again: records of the old ones go
        self.retrained: set = set()
        # whether records carry fidelity without ground truth (graph classification)
        self.fidelity = False
        self.has_truth = True
        # default-setting explainers fitted by this run, per (name, seed), until their tuning
        self.fitted: Dict[tuple, tuple] = {}
        # (seed, graphs, class names) of the page of pictures
        self.examples: Optional[tuple] = None

    def run(self) -> Dict[str, Any]:
        spec = self.spec
        with torch_threads(spec.threads):
            bar = tqdm(total=len(spec.seeds) * len(self.pieces), desc="benchmark",
                       disable=not spec.progress, dynamic_ncols=True)
            for seed in spec.seeds:
                self.run_seed(seed, bar)
            bar.close()
        atomic_write(self.folder.benchmark_md, format_markdown(self.result))
        if self.examples is not None:
            write_comparison_page(self.folder.benchmark_html, self.result, *self.examples)
        return {**self.result, "out_dir": str(self.folder.path)}

    def run_seed(self, seed: int, bar: Any) -> None:
        spec = self.spec
        ds = load_dataset(spec.dataset, spec.data_dir, seed=seed, **spec.dataset_options)
        level = str(ds.extra.get("level", "graph"))
        # fidelity follows the probability of a predicted class, on whole graphs
        self.fidelity = level == "graph" and ds.task in ("binary", "multiclass")
        self.has_truth = bool(ds.has_ground_truth)
        if not ds.has_ground_truth:
            _check_without_truth(spec, ds, level)
        run_spec = RunSpec(dataset=spec.dataset, backbone=spec.backbone, config=spec.config,
                           epochs=spec.epochs, device=spec.device, method=spec.method)
        cfg = resolve_config(run_spec, ds.config_name)
        raw, ds = ds, task_dataset(ds, cfg)  # a node dataset: the graph(s) trained on
        # A model of the whole graph of a node task explains its nodes through their
        # computation subgraphs: post-hoc explainers read the ERM model's prediction of each
        # subgraph's centre (exactly its whole-graph prediction), GSAT its own attention.
        whole = ds.extra.get("design") == "whole"
        explained = subgraph_dataset(raw, cfg.model.n_layers) if whole else ds
        graphs = _Graphs.of(explained, spec)
        if self.examples is None:  # the page shows the first seed's graphs
            names = raw.extra.get("class_names")
            self.examples = (seed, graphs.test[:EXAMPLE_GRAPHS],
                             names if isinstance(names, list) else None)
        write_config(self.folder, cfg)
        models: Dict[str, tuple] = {}
        for name, tuned in self.pieces:
            explainer = make_explainer(name, **explainer_settings(name, spec))
            kind = explainer.model_kind
            if kind not in models:
                models[kind] = trained_model(cfg, ds, seed, self.folder.model(kind, seed), kind,
                                             spec.device, spec.progress, spec.dataset_options)
                if not models[kind][2]:
                    self.retrained.add((seed, kind))
            method = name + TUNED if tuned else name
            bar.set_postfix(seed=seed, method=method)
            if whole and isinstance(explainer, GSATExplainer):
                explainer = WholeGraphGSATExplainer(ds.test[0], **explainer.settings)
            posthoc = whole and kind == "erm"
            with center_readout(models[kind][0]) if posthoc else contextlib.nullcontext():
                rec = self.piece(seed, name, tuned, explainer, models[kind],
                                 explained if posthoc else ds, graphs)
            self.records.append(rec)
            log.info("%s seed %d: test interp AUC %s, %.1f graphs/s", method, seed,
                     rec.get("test_interp_auc"), rec.get("graphs_per_second", math.nan))
            bar.update(1)
            self.write(ds.metric, cfg.train.epochs, len(graphs.valid),
                       str(ds.extra.get("level", "graph")))

    def piece(self, seed: int, name: str, tuned: bool, explainer: Any, trained: tuple,
              ds: Any, graphs: _Graphs) -> Dict[str, Any]:
        """The record of one (method, seed): an earlier one made from the same things, or
        a new one."""
        model, train_rec, reused = trained
        kind = explainer.model_kind
        method = name + TUNED if tuned else name
        key = self.keys[method]
        same_graphs = {**graphs.test_digest, **(graphs.tune_digest if tuned else {})}
        old = [r for r in self.earlier.records if r.get("method") == method
               and r.get("seed") == seed and r.get("piece_key") == key and reused
               and r.get("model_best_epoch") == train_rec.get("best_epoch")
               and all(r.get(k, v) == v for k, v in same_graphs.items())
               and (not self.fidelity or "test_deletion_auc" in r)]
        folder = self.folder.model(kind, seed)
        if old:
            rec = old[-1]
            log.info("reusing the finished %s record of seed %d", method, seed)
        elif tuned:  # the chosen setting's explainer
            rec, explainer = self.tuned_record(seed, name, trained, folder, ds, graphs)
        else:
            rec = self.default_record(seed, name, explainer, trained, folder, ds, graphs)
        rec.update(same_graphs)
        rec.update(model_best_epoch=train_rec.get("best_epoch"),
                   model_selection=train_rec.get("selection"),
                   model_valid_metric=train_rec.get("valid_metric"),
                   model_reused=reused, settings=dict(rec.get("settings") or explainer.settings),
                   piece_key=key)
        explains = attention_row_name(kind, self.spec.method)
        if tuned:
            entry = self.settings.setdefault(method, {"explains": explains, "chosen_per_seed": {}})
            entry["chosen_per_seed"][str(seed)] = rec["settings"]
            entry["grid"] = self.grids[name]
            discard_piece(folder.tuning(name))
            discard_piece(folder.fitted(name))
        else:
            self.settings[method] = {"explains": explains, **explainer.settings}
        return rec

    def _stamp(self, key: Dict[str, Any], train_rec: Dict[str, Any], **more: Any
               ) -> Dict[str, Any]:
        """What a tuning's saved pieces depend on: the piece key and the trained model."""
        return {"piece_key": key, "model_best_epoch": train_rec.get("best_epoch"), **more}

    def default_record(self, seed: int, name: str, explainer: Any, trained: tuple,
                       folder: SeedFolder, ds: Any, graphs: _Graphs) -> Dict[str, Any]:
        spec = self.spec
        model, train_rec, _ = trained
        torch.manual_seed(seed)
        rec = {"method": name, "seed": seed, "model": explainer.model_kind,
               **explain_and_score(explainer, model, ds, graphs.test, spec.device,
                                   spec.progress, unseen=graphs.unseen,
                                   fidelity=self.fidelity, keep_masks=EXAMPLE_GRAPHS)}
        if explainer.needs_fit and name in self.grids:  # its tuning may reuse the fit ...
            self.fitted[(name, seed)] = (explainer, rec["fit_seconds"])
            # ... also after an interruption: the fit is saved until then
            save_fit(folder.fitted(name), self._stamp(self.keys[name], train_rec), explainer,
                     rec["fit_seconds"])
        return rec

    def tuned_record(self, seed: int, name: str, trained: tuple, folder: SeedFolder, ds: Any,
                     graphs: _Graphs) -> tuple:
        spec = self.spec
        model, train_rec, reused = trained
        stamp = self._stamp(self.keys[name + TUNED], train_rec, **graphs.tune_digest)
        done = earlier_trials(folder.tuning(name), stamp) if reused else []
        if done:
            log.info("continuing the %s tuning of seed %d after its %d finished trial(s)", name,
                     seed, len(done))
        prefitted = self.fitted.pop((name, seed), None)
        if prefitted is None and reused:  # fitted by an interrupted run
            prefitted = load_fit(folder.fitted(name), self._stamp(self.keys[name], train_rec),
                                 make_explainer(name, **explainer_settings(name, spec)), model,
                                 ds.task, spec.device)
        start = time.perf_counter()
        explainer, chosen, trials, i = tune_explainer(
            name, model, ds, graphs.valid, self.grids[name], seed, spec.device, spec.progress,
            prefitted=prefitted, done=done,
            on_trial=lambda t: save_trials(folder.tuning(name), stamp, t))
        # the time of the trials an interrupted run made counts too
        tuning_seconds = time.perf_counter() - start + sum(
            t.get("seconds") or 0.0 for t in trials if t.get("resumed"))
        best = trials[i]
        torch.manual_seed(seed)
        return {"method": name + TUNED, "seed": seed, "model": explainer.model_kind,
                **explain_and_score(explainer, model, ds, graphs.test, spec.device,
                                    spec.progress, fit=False, unseen=graphs.unseen,
                                    fidelity=self.fidelity, keep_masks=EXAMPLE_GRAPHS),
                "fit_seconds": best["fit_seconds"], "valid_interp_auc": best["valid_interp_auc"],
                "tuning_seconds": tuning_seconds, "tuning_graphs": len(graphs.valid),
                "tuning": trials, "chosen": chosen}, explainer

    def kept(self) -> List[Dict[str, Any]]:
        r"""The earlier records this run has not redone: a run of some explainers or seeds
        adds to the folder's table instead of replacing it, and an interrupted run loses
        none of the records it had not reached. Dropped: those of a seed whose model this
        run trained again (they explained the old model) and those of a method this run has
        with other settings (piece key), which would otherwise be mixed into one row."""
        done = {(r["method"], r["seed"]) for r in self.records}
        return [r for r in self.earlier.records
                if (r.get("method"), r.get("seed")) not in done
                and (r.get("seed"), r.get("model")) not in self.retrained
                and r.get("piece_key") == self.keys.get(r.get("method"), r.get("piece_key"))]

    def write(self, metric_name: str, epochs: int, tuning_graph_count: int,
              level: str = "graph") -> None:
        """Rewrite ``benchmark.json`` with every record so far (never half-written)."""
        spec, earlier = self.spec, self.earlier
        others = self.kept()
        records = sorted(self.records + others, key=lambda r: (
            r.get("seed", 0), self.order.get(r["method"], len(self.order))))
        methods = dict.fromkeys(r["method"] for r in records)
        tuning = None
        if spec.tune:
            tuning = {"selected_on": "validation", "reported_on": "test",
                      "budget": TUNING_BUDGET,
                      "grids": {**{n: g for n, g in earlier.grids.items() if n + TUNED in methods},
                                **self.grids},
                      "graphs": tuning_graph_count}
        elif any(m.endswith(TUNED) for m in methods):
            tuning = earlier.tuning
        self.result = {
            "dataset": spec.dataset, "backbone": spec.backbone, "metric_name": metric_name,
            "level": level, "has_ground_truth": self.has_truth,
            "fidelity": ({"kept_share": DEFAULT_KEEP, "steps": DEFAULT_STEPS,
                          "removal": "delete", "higher_is_better": dict(METRIC_DIRECTIONS)}
                         if self.fidelity else None),
            "explainers": self.names if others else spec.explainers,
            "seeds": sorted(set(earlier.seeds + spec.seeds)) if others else spec.seeds,
            "epochs": epochs, "device": spec.device, "torch_threads": torch.get_num_threads(),
            "torch_version": torch.__version__, "max_graphs": spec.max_graphs,
            "settings": merged_settings(earlier.settings, self.settings, records),
            "records": records, "summary": summarize_records(records),
            "gsat_method": spec.method,
            "published": {m: published_value(spec.dataset, spec.backbone,
                                             attention_row_name(base_method(m), spec.method))
                          for m in methods},
            "published_source": published_source(spec.dataset), "tuning": tuning,
            "spec": asdict(spec)}
        write_json(self.result, self.folder.benchmark_json)


def _check_without_truth(spec: BenchmarkSpec, ds: Any, level: str) -> None:
    """Refuse, in one line, what a dataset without ground-truth edges cannot give: node
    explanations (fidelity is computed on whole graphs), a regression or multi-label task
    (no predicted class to follow), tuning (it picks settings by interpretation AUC)."""
    name = spec.dataset
    if level != "graph":
        raise DataMissingError(f"dataset {name} has no ground-truth edges to score node "
                               "explanations against (fidelity without ground truth is "
                               "computed for graph classification)")
    if ds.task not in ("binary", "multiclass"):
        raise ConfigError(f"dataset {name} has no ground-truth edges and is a {ds.task} task: "
                          "explanations are then compared by fidelity to the predicted "
                          "class, which needs binary or multiclass classification")
    if spec.tune:
        raise ConfigError(f"--tune picks each explainer's setting by interpretation AUC on "
                          f"validation graphs with ground-truth edges; dataset {name} has "
                          "none: drop --tune (every method then runs its default setting)")


def run_benchmark(spec: BenchmarkSpec) -> Dict[str, Any]:
    r"""Train or reuse GSAT and ERM models per seed, explain the interpretation test graphs
    (:attr:`GraphDataset.interp_test` if set, else :attr:`GraphDataset.test`) with every
    explainer, and write ``benchmark.json`` (one record per method and seed, plus summary
    and settings) and ``benchmark.md`` into :obj:`spec.out`.

    On graph classification (binary, multiclass) every record also holds the fidelity of
    the method's edge ranking without ground truth
    (:func:`gsat.benchmark.scoring.fidelity_fields`); a dataset without ground-truth edges
    (``csv:``, OGB) is compared on those alone, with the same backbone, models and default
    settings for every method (no tuning: it needs ground truth).

    With :obj:`spec.tune`, every post-hoc explainer is also tuned per seed
    (:func:`gsat.benchmark.tuning.tune_explainer`): the setting of its grid with the best
    interpretation ROC AUC on the validation graphs
    (:func:`gsat.benchmark.graphs.tuning_graphs`) is reported on the test graphs as method
    ``<name>+tuned``, with its trials; the default-settings row stays.

    Layout of the output folder (:class:`gsat.runs.layout.RunFolder`): ``gsat/seed<N>/`` and
    ``erm/seed<N>/`` hold the trained models (``best.pt``, ``record.json``, ...), reused by
    later runs with the same stamp. ``benchmark.json`` is rewritten after every finished
    (method, seed) piece; a later run in the same folder reuses the pieces it finds that were
    made with the same settings, the same trained model and the same graphs, so an
    interrupted run continues where it stopped. A tuning saves its trials as they finish
    (removed once its record is written), so an interrupted tuning continues at its next
    setting; the default row's fit of a learning explainer (PGExplainer) waits for its
    tuning in the store too.

    Returns:
        dict: the content of ``benchmark.json`` plus :obj:`out_dir`.
    """
    return _BenchmarkRun(spec).run()
