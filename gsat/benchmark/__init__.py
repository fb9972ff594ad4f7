r"""GSAT against post-hoc explainers on the same backbones, ground truth and metrics
(``gsat benchmark``): :class:`BenchmarkSpec` says what runs, :func:`run_benchmark` runs it.

Modules, in the order a run goes through them: :mod:`~gsat.benchmark.spec` (what runs and
the keys of reusable pieces), :mod:`~gsat.benchmark.graphs` (the explained and tuning
graphs), :mod:`~gsat.benchmark.models` (trained or reused GSAT and ERM models),
:mod:`~gsat.benchmark.tuning` (the same budget for every explainer),
:mod:`~gsat.benchmark.scoring` (explain, time, score), :mod:`~gsat.benchmark.pipeline` (the
run), :mod:`~gsat.benchmark.report` (``benchmark.md``) and
:mod:`~gsat.benchmark.published` (the paper's numbers).
"""
from gsat.benchmark.pipeline import run_benchmark
from gsat.benchmark.published import (PUBLISHED, PUBLISHED_PREDICTION, PUBLISHED_SOURCE,
                                      published_value)
from gsat.benchmark.report import (finished_seeds, format_markdown, gsat_against_best_baseline,
                                   summarize_records, throughput_ratio)
from gsat.benchmark.spec import TUNED, BenchmarkSpec, base_method

__all__ = ["BenchmarkSpec", "run_benchmark", "PUBLISHED", "PUBLISHED_PREDICTION",
           "PUBLISHED_SOURCE", "published_value", "finished_seeds", "format_markdown",
           "gsat_against_best_baseline", "summarize_records", "throughput_ratio", "TUNED",
           "base_method"]
