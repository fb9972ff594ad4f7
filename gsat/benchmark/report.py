r"""``benchmark.md`` and the figures read from a benchmark result: the summary per method,
throughput ratios, the seeds every row has finished, GSAT against the best post-hoc row."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from gsat.benchmark.published import published_value
from gsat.benchmark.scoring import FIDELITY_FIELDS
from gsat.benchmark.spec import TUNED, attention_row_name, base_method
from gsat.metrics.summary import markdown_table, mean_std, summarize

__all__ = ["SUMMARY_FIELDS", "FIDELITY_COLUMNS", "summarize_records", "fidelity_table",
           "throughput_ratio", "expected_methods",
           "finished_seeds", "gsat_against_best_baseline", "format_markdown"]

#: per-(method, seed) fields summarised by mean and std
SUMMARY_FIELDS = ("test_interp_auc", "test_precision_at_5", "test_metric", "explain_seconds",
                  "graphs_per_second", "fit_seconds", "valid_interp_auc", "tuning_seconds",
                  "graphs_per_second_batch1", "test_interp_auc_unseen") + tuple(FIDELITY_FIELDS)

#: the fidelity columns of ``benchmark.md``: (record field, heading with its direction)
FIDELITY_COLUMNS = (("test_prob_full", "P(predicted class)"), ("test_fid_plus", "fid+ ↑"),
                    ("test_fid_minus", "fid- ↓"),
                    ("test_characterization", "characterization ↑"),
                    ("test_unfaithfulness", "unfaithfulness ↓"),
                    ("test_deletion_auc", "deletion AUC ↓"),
                    ("test_insertion_auc", "insertion AUC ↑"))


def summarize_records(records: List[Dict[str, Any]]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per method: mean and (population) std over seeds of :data:`SUMMARY_FIELDS`
    (:func:`gsat.metrics.summary.summarize` grouped by method)."""
    return summarize(records, SUMMARY_FIELDS, by="method")


def _ms(summary: Dict[str, Any], key: str, scale: float = 100.0, digits: int = 2) -> str:
    return mean_std(summary, key, scale, digits)


def throughput_ratio(result: Dict[str, Any], a: str = "gsat",
                     b: str = "gnnexplainer", key_a: str = "graphs_per_second") -> Optional[float]:
    """Mean graphs/second of :obj:`a` (field :obj:`key_a`) over that of :obj:`b` in one
    benchmark result."""
    summ = result.get("summary", {})
    try:
        return summ[a]["mean"][key_a] / summ[b]["mean"]["graphs_per_second"]
    except (KeyError, ZeroDivisionError):
        return None


def expected_methods(result: Dict[str, Any]) -> set:
    """The rows a benchmark run makes: its explainers, and the tuned row of each explainer
    it tunes."""
    return set(result.get("explainers") or []) | {
        n + TUNED for n in ((result.get("tuning") or {}).get("grids") or {})}


def finished_seeds(result: Dict[str, Any]) -> List[int]:
    """The seeds of a benchmark result that every row has finished (with an interpretation
    AUC): the rows of its records and those the run makes (:func:`expected_methods`), so a
    seed whose last explainer is still running is not finished."""
    records = [r for r in result.get("records", []) if r.get("test_interp_auc") is not None]
    methods = set(r["method"] for r in records) | expected_methods(result)
    done: Dict[int, set] = {}
    for r in records:
        done.setdefault(r["seed"], set()).add(r["method"])
    return sorted(s for s, m in done.items() if m == methods)


def gsat_against_best_baseline(result: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    r"""GSAT against the post-hoc row (default or tuned) with the highest mean interpretation
    AUC in one benchmark result, over the seeds that every row of the result has finished,
    so that all rows average the same seeds (:func:`finished_seeds`).

    Returns:
        dict or None: :obj:`seeds`; :obj:`gsat` and :obj:`best_auc`, (mean, std) of the
        interpretation AUC; :obj:`best`, the best row's method; :obj:`beaten`, whether its
        mean is above GSAT's; :obj:`published_best`, the highest published value (x100) of a
        post-hoc method in the result, or None; :obj:`ratio`, GSAT's graphs per second over
        GNNExplainer's (default row) on those seeds, or None. None when GSAT or every
        post-hoc row is missing, or no seed is finished by every row.
    """
    records = [r for r in result.get("records", []) if r.get("test_interp_auc") is not None]
    methods = set(r["method"] for r in records) | expected_methods(result)
    seeds = finished_seeds(result)
    posthoc = sorted(m for m in methods if base_method(m) != "gsat")
    if "gsat" not in methods or not posthoc or not seeds:
        return None
    summ = summarize_records([r for r in records if r["seed"] in seeds])

    def auc(m: str) -> tuple:
        return summ[m]["mean"]["test_interp_auc"], summ[m]["std"]["test_interp_auc"]

    best = max(posthoc, key=lambda m: auc(m)[0])
    published = [published_value(result.get("dataset", ""), result.get("backbone", "GIN"),
                                 base_method(m)) for m in posthoc]
    published = [p[0] for p in published if p is not None]
    return {"seeds": seeds, "gsat": auc("gsat"), "best": best, "best_auc": auc(best),
            "beaten": auc(best)[0] > auc("gsat")[0],
            "published_best": max(published) if published else None,
            "ratio": throughput_ratio({"summary": summ})}


def _ratio_text(r: Optional[float]) -> str:
    return "–" if r is None else (f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x")


def fidelity_table(result: Dict[str, Any]) -> List[str]:
    r"""The lines of ``benchmark.md``'s table of fidelity without ground truth
    (:func:`gsat.explain.fidelity.graph_fidelity`): per method fid+, fid-, characterization
    score, unfaithfulness and the areas under the deletion and insertion curves (mean ± std
    over seeds, as fractions, the direction in each heading), beside the interpretation
    AUC where the dataset has ground truth; no lines when no record holds them."""
    summary = result["summary"]
    if not any("test_deletion_auc" in v["mean"] for v in summary.values()):
        return []
    fid = result.get("fidelity") or {}
    truth = any("test_interp_auc" in v["mean"] for v in summary.values())
    keep = fid.get("kept_share", 0.2)
    steps = fid.get("steps", 10)
    # a bold title, not a heading: reports that embed benchmark.md keep their sections
    lines = ["", f"**Fidelity without ground truth.** Each method's edge scores ranked per "
             f"graph; the explanation is the top {keep:.0%} of a graph's edges (at least "
             f"one edge). fid+: share of graphs whose predicted class changes when the explanation is removed; fid-: when only the "
             f"explanation is kept (PyG's model-mode fidelity); characterization: PyG's "
             f"harmonic mean of fid+ and 1 - fid-; unfaithfulness: 1 - exp(-KL) between the "
             f"class probabilities on the whole graph and on the explanation. Deletion / "
             f"insertion AUC: area under the probability of the predicted class as the top "
             f"0, {100 // steps}, ..., 100 % of each graph's edges are removed / kept. Removed "
             f"edges are deleted from the graph the explained model sees (GSAT: its gated "
             f"pass with the other edges whole; post-hoc methods: the ERM model), so GSAT's "
             f"rows and the post-hoc rows follow two models: P(predicted class) is each "
             f"model's mean probability of its prediction on the whole graphs, where the "
             f"curves start. Fractions, mean ± std over seeds; ↑ higher is better, ↓ lower "
             f"is better.", ""]
    head = ["method", "explains"] + (["interp AUC ↑"] if truth else []) + \
        [h for _, h in FIDELITY_COLUMNS]
    rows = []
    for method, summ in summary.items():
        if "test_deletion_auc" not in summ["mean"]:
            continue
        rows.append([attention_row_name(method, result.get("gsat_method", "gsat")),
                     result["settings"].get(method, {}).get("explains", "?")]
                    + ([_ms(summ, "test_interp_auc")] if truth else [])
                    + [_ms(summ, key, 1.0, 3) for key, _ in FIDELITY_COLUMNS])
    return lines + markdown_table(head, rows).splitlines()


def format_markdown(result: Dict[str, Any]) -> str:
    r"""``benchmark.md``: one row per method (tuned explainers as ``<name>+tuned`` beside
    their default row) with interpretation AUC, precision@5 and the explained model's
    prediction metric (x100, mean ± std over seeds), the published AUC, the validation AUC of
    the chosen setting (tuned rows), seconds to explain the test graphs, graphs per second
    and how many times more graphs per second GSAT explains (batched, and one graph at a
    time like the post-hoc methods); then the fidelity without ground truth
    (:func:`fidelity_table`), the settings and the tuning grids. On a dataset without
    ground-truth edges the first table leaves out the columns that need them."""
    metric = result["metric_name"]
    n = result["records"][0]["num_graphs"] if result["records"] else 0
    lines = [f"# Explainers on {result['dataset']} with {result['backbone']}", "",
             f"Seeds {result['seeds']}, {result['epochs']} training epochs, {n} explained "
             f"test graphs, device {result['device']}, {result['torch_threads']} torch "
             f"thread(s). Scores x100, mean ± std over seeds. Post-hoc methods explain the "
             f"backbone trained without attention (ERM, its best-validation epoch) for its "
             f"predicted class; on undirected graphs their two scores of an edge are "
             f"averaged (GSAT's attention is symmetric). GSAT explains itself.", "",
             ]
    if result.get("level") == "node":
        lines += ["Node classification: every explained graph is the computation subgraph of "
                  "one explained node (a motif node of the test split), so graphs/s are nodes "
                  "explained per second.", ""]
    summary = result["summary"]
    truth = result.get("has_ground_truth", True)
    if not truth:
        lines += [f"{result['dataset']} has no ground-truth edges: the methods are compared "
                  "by the fidelity of their explanations to the model they explain (below).",
                  ""]
    has_unseen = any("test_interp_auc_unseen" in v["mean"] for v in summary.values())
    head = ["method", "explains", "seeds", "interp AUC", "published AUC", "valid AUC (tuning)",
            "prec@5", f"model test {metric}", "s to explain", "graphs/s",
            "GSAT graphs/s ÷ this (batched / 1 at a time)"]
    if has_unseen:
        head.insert(4, "interp AUC, graphs not tuned on")
    truth_columns = [i for i, h in enumerate(head) if not truth and (
        h.startswith("interp AUC") or h in ("published AUC", "valid AUC (tuning)", "prec@5"))]
    n_seeds = {m: len({r["seed"] for r in result["records"] if r["method"] == m})
               for m in summary}
    rows = []
    gm = result.get("gsat_method", "gsat")
    for method, summ in summary.items():
        pub = published_value(result["dataset"], result["backbone"],
                              attention_row_name(base_method(method), gm))
        if method == "gsat":
            b1 = summ["mean"].get("graphs_per_second_batch1")
            ratio = f"(1 at a time: {b1:,.1f} graphs/s)" if b1 is not None else "–"
        else:
            batched = throughput_ratio(result, "gsat", method)
            one = throughput_ratio(result, "gsat", method, "graphs_per_second_batch1")
            ratio = f"{_ratio_text(batched)} / {_ratio_text(one)}"
        pub_text = ("–" if not pub else f"{pub[0]:.2f}" if pub[1] is None
                    else f"{pub[0]:.2f} ± {pub[1]:.2f}")
        rows.append([attention_row_name(method, gm), result["settings"][method]["explains"],
                     str(n_seeds[method]),
                     _ms(summ, "test_interp_auc")]
                    + ([_ms(summ, "test_interp_auc_unseen")] if has_unseen else [])
                    + [pub_text,
                     _ms(summ, "valid_interp_auc") if method.endswith(TUNED) else "–",
                     _ms(summ, "test_precision_at_5"), _ms(summ, "test_metric"),
                     _ms(summ, "explain_seconds", 1.0, 3), _ms(summ, "graphs_per_second", 1.0, 1),
                     ratio])
    if truth_columns:
        head = [h for i, h in enumerate(head) if i not in truth_columns]
        rows = [[c for i, c in enumerate(row) if i not in truth_columns] for row in rows]
    lines += markdown_table(head, rows).splitlines()
    lines += fidelity_table(result)
    ratio = throughput_ratio(result)
    if ratio is not None:
        lines += ["", f"GSAT explains {ratio:,.0f}x more graphs per second than GNNExplainer "
                      "in this run."]
    if truth:
        lines += ["", f"Published values: {result['published_source']}."]
    lines += ["",
              "Default settings: " + "; ".join(
                  f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items())
                  for k, v in result["settings"].items() if not k.endswith(TUNED)), ""]
    tuning = result.get("tuning")
    if tuning:
        lines += [f"Tuning: per seed, every setting of a grid of at most {tuning['budget']} "
                  f"(the same budget for every method) explained the {tuning['graphs']} "
                  "validation graphs with ground truth; the setting with the best validation "
                  "interpretation AUC was then run on the test graphs. Chosen settings:", ""]
        for k, v in result["settings"].items():
            if k.endswith(TUNED):
                chosen = "; ".join(f"seed {sd}: " + ", ".join(f"{a}={b}" for a, b in st.items())
                                   for sd, st in v["chosen_per_seed"].items())
                lines += [f"- {k}: {chosen}"]
        lines += ["", "Grids: " + "; ".join(
            f"{k}: " + " | ".join(",".join(f"{a}={b}" for a, b in g.items()) for g in grid)
            for k, grid in tuning["grids"].items()), ""]
    return "\n".join(lines)
