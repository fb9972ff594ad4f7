"""The one summary over seeds and the one table writer."""
import math

from gsat.metrics.summary import (markdown_sections, markdown_table, mean_std, run_table,
                                  summarize, with_section)


def test_summarize_leaves_out_missing_and_nan_values():
    recs = [{"m": 0.5, "a": None}, {"m": 0.7, "a": math.nan}, {"m": 0.9}]
    out = summarize(recs, ("m", "a"))
    assert math.isclose(out["mean"]["m"], 0.7) and math.isclose(out["std"]["m"],
                                                                 math.sqrt(0.08 / 3))
    assert "a" not in out["mean"] and "a" not in out["std"]
    assert summarize([{"m": 0.4}], ("m",))["std"]["m"] == 0.0


def test_summarize_by_group_keeps_first_appearance_order():
    recs = [{"method": "b", "m": 1.0}, {"method": "a", "m": 0.0}, {"method": "b", "m": 3.0}]
    out = summarize(recs, ("m",), by="method")
    assert list(out) == ["b", "a"] and out["b"]["mean"]["m"] == 2.0


def test_mean_std_text():
    s = {"mean": {"x": 0.91234, "nan": math.nan}, "std": {"x": 0.0123, "nan": math.nan}}
    assert mean_std(s, "x") == "91.23 ± 1.23"
    assert mean_std(s, "x", n=1) == "91.23"
    assert mean_std(s, "x", 1.0, 3) == "0.912 ± 0.012"
    assert mean_std(s, "nan") == mean_std(s, "absent") == "n/a"


def test_tables_and_sections():
    assert markdown_table(["a", "b"], [[1, "x"], [2, None]]).splitlines() == [
        "| a | b |", "|---|---|", "| 1 | x |", "| 2 | None |"]
    text = "# T\n\nintro\n\n## One\nfirst\n\n## Two\nsecond\n"
    assert list(markdown_sections(text)) == ["## One", "## Two"]
    new = with_section(text, "## One\nreplaced\n")
    assert "replaced" in new and "first" not in new and new.index("One") < new.index("Two")
    assert with_section(text, "## Three\nthird").rstrip().endswith("## Three\nthird")


def test_run_table_has_a_row_per_seed_and_mean_std_for_several():
    runs = [{"seed": s, "best_epoch": 10 + s, "test_metric": 0.9, "test_interp_auc": math.nan,
             "test_precision_at_5": None, "seconds_per_epoch": 1.5} for s in (0, 1)]
    results = {"metric_name": "acc", "runs": runs, **summarize(runs)}
    lines = run_table(results).splitlines()
    assert len(lines) == 2 + 3 and "test acc" in lines[0]
    assert lines[2] == "| 0 | 10 | 90.00 | n/a | n/a | 1.500 |"
    assert lines[-1].startswith("| mean ± std | 10.50 ± 0.50 | 90.00 ± 0.00 | n/a")
    single = {"metric_name": "acc", "runs": runs[:1], **summarize(runs[:1])}
    assert len(run_table(single).splitlines()) == 3
