r"""Results on disk and on screen: the one summary over seeds (mean and population standard
deviation) and the one markdown table writer used by ``gsat train``, ``gsat benchmark`` and
the reproduction scripts."""
from __future__ import annotations

import math
import statistics
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

#: numeric per-run fields of ``results.json`` summarised by mean/std
RUN_FIELDS = ("best_epoch", "valid_metric", "test_metric", "test_interp_auc",
              "test_precision_at_5", "seconds_per_epoch")

Summary = Dict[str, Dict[str, float]]

#: prediction metrics that are errors of a regression (lower is better; shown unscaled)
ERROR_METRICS = ("rmse", "mae")

#: how tables name a prediction metric (``results.json`` keeps the short name as
#: ``metric_name`` and this one as ``metric_label``)
METRIC_LABELS = {"acc": "acc", "rocauc": "rocauc", "rmse": "RMSE", "mae": "MAE"}


def summarize(records: Iterable[Mapping[str, Any]], fields: Sequence[str] = RUN_FIELDS,
              by: Optional[str] = None) -> Any:
    r"""Mean and population standard deviation over records (e.g. seeds) of each field in
    :obj:`fields`; missing, :obj:`None` and NaN values are left out, and a field with no
    value is absent from the result.

    Args:
        records (iterable of dict): one record per run.
        fields (sequence of str, optional): the fields. (default: :data:`RUN_FIELDS`)
        by (str, optional): group the records by this key first (e.g. :obj:`"method"`);
            the result is then keyed by its values, in order of first appearance.
            (default: :obj:`None`)

    Returns:
        dict: :obj:`{"mean": {field: value}, "std": {field: value}}`, or one such dict per
        group with :obj:`by`.
    """
    records = list(records)
    if by is not None:
        return {group: summarize([r for r in records if r[by] == group], fields)
                for group in dict.fromkeys(r[by] for r in records)}
    mean: Dict[str, float] = {}
    std: Dict[str, float] = {}
    for key in fields:
        vals = [float(r[key]) for r in records if r.get(key) is not None]
        vals = [v for v in vals if not math.isnan(v)]
        if vals:
            mean[key] = statistics.fmean(vals)
            std[key] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
    return {"mean": mean, "std": std}


def mean_std(summary: Mapping[str, Mapping[str, float]], key: str, scale: float = 100.0,
             digits: int = 2, n: Optional[int] = None) -> str:
    r"""``"m ± s"`` of :obj:`key` in a :func:`summarize` result, times :obj:`scale`; just
    ``"m"`` when :obj:`n == 1` (one seed has no spread); ``"n/a"`` when absent."""
    m, s = summary["mean"].get(key), summary["std"].get(key)
    if m is None or math.isnan(m):
        return "n/a"
    if n == 1:
        return f"{scale * m:.{digits}f}"
    return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table with header :obj:`head` and one line per row."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_sections(text: str) -> Dict[str, str]:
    """The ``## `` sections of a markdown text by title line (``## ...``), in order, each
    ending with one newline; the text before the first title is left out."""
    return {"## " + part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n"
            for part in text.split("\n## ")[1:]}


def with_section(text: str, section: str) -> str:
    """:obj:`text` with the section titled as :obj:`section`'s first line replaced in place,
    or appended when it has none."""
    sections = markdown_sections(text)
    sections[section.split("\n", 1)[0]] = section.rstrip("\n") + "\n"
    return text.split("\n## ", 1)[0].rstrip("\n") + "\n\n" + "\n".join(sections.values())


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * v:.2f}" if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))


def run_table(results: Mapping[str, Any]) -> str:
    """The markdown table of a ``results.json`` (one row per seed, plus mean ± std)."""
    metric = results["metric_name"]
    # an error (RMSE, MAE: lower is better) in the target's own unit, the scores x100
    error = metric in ERROR_METRICS
    shown = METRIC_LABELS.get(metric, metric) + (" (lower is better)" if error else "")
    head = ["seed", "best epoch", f"test {shown}", "test interp AUC", "test prec@5", "s/epoch"]
    rows: List[List[str]] = [
        [str(r["seed"]), str(r["best_epoch"]),
         _fmt(float(r["test_metric"])) if error else _fmt(r["test_metric"], True),
         _fmt(r["test_interp_auc"], True), _fmt(r["test_precision_at_5"], True),
         _fmt(r["seconds_per_epoch"])] for r in results["runs"]]
    if len(results["runs"]) > 1:
        rows.append(["mean ± std", mean_std(results, "best_epoch", 1.0),
                     mean_std(results, "test_metric", 1.0 if error else 100.0,
                              3 if error else 2), mean_std(results, "test_interp_auc"),
                     mean_std(results, "test_precision_at_5"),
                     mean_std(results, "seconds_per_epoch", 1.0)])
    return markdown_table(head, rows)
