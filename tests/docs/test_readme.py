"""The README's Python blocks run as printed: each on its own where it says so (the worked
example of wrapping a user-defined GCN classifier), and all of them in order in one namespace,
as a reader would paste them after ``import gsat``."""
import io
import json
import math
import re
import tokenize
from pathlib import Path

import torch

import gsat

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "<!-- readme-example: own-model -->"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
#: a placeholder in angle brackets, e.g. "runs/<timestamp>"
ANGLE_PLACEHOLDER = re.compile(r"<[A-Za-z_ -]+>")


def readme_example() -> str:
    text = README.read_text()
    assert text.count(MARKER) == 1, "the README must hold the marked example exactly once"
    match = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    assert match, "the marker must be followed by a ```python block"
    return match.group(1)


def python_blocks():
    """Every ```python block of the README: (line of its first code line, code)."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def placeholders(code: str):
    """The placeholders a block must not hold: ``...`` as code (a comment may elide with it)
    and ``<name>`` inside a string."""
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.OP and tok.string == "...":
            found.append(f"line {tok.start[0]}: ...")
        if tok.type == tokenize.STRING and ANGLE_PLACEHOLDER.search(tok.string):
            found.append(f"line {tok.start[0]}: {tok.string}")
    return found


def test_readme_example_is_short():
    assert len(readme_example().splitlines()) < 30


def test_readme_example_runs_and_prints_the_returned_models_accuracy(monkeypatch, capsys):
    """The example trains and explains; the accuracy it prints is that of the model gsat.fit
    returns (the selected epoch's weights), not the last epoch's: a last epoch worse than the
    selected one (appended here to what gsat.fit returns) does not change what is printed."""
    fit, fitted = gsat.fit, []

    def fit_with_a_worse_last_epoch(*args, **kwargs):
        fitted.append(fit(*args, **kwargs))
        return fitted[-1] + [dict(fitted[-1][-1], epoch=len(fitted[-1]), valid_metric=0.25,
                                  selected=False)]

    monkeypatch.setattr(gsat, "fit", fit_with_a_worse_last_epoch)
    ns = {"__name__": "readme_example"}
    exec(compile(readme_example(), "README.md", "exec"), ns)
    (history,), model, test = fitted, ns["model"], ns["test"]
    assert len(history) == 20 and history[-1]["r"] == 0.7
    # the GCN backbone learns the task (chord or not) within the example's 20 epochs
    assert history[-1]["valid_metric"] >= 0.9
    att = model.explain(test)
    assert att.shape == (test.num_edges,) and bool(((att >= 0) & (att <= 1)).all())
    printed = capsys.readouterr().out.split()
    (selected,) = [r for r in history if r.get("selected")]
    assert float(printed[0]) == selected["valid_metric"] != 0.25
    assert float(printed[0]) == gsat.evaluate(model, [test])["metric"]
    assert math.isclose(float(printed[1]), gsat.interp_auc(att, test.edge_label))
    # the user's GCN layers are gated by a mask without any change to them
    from gsat.core.model import edge_mask

    model.eval()
    with torch.no_grad():
        plain = model.backbone.get_emb(test.x, test.edge_index, test.batch)
        with edge_mask(model.backbone, torch.zeros(test.num_edges), test.edge_index):
            gated = model.backbone.get_emb(test.x, test.edge_index, test.batch)
    assert not torch.allclose(plain, gated)


def test_readme_blocks_hold_no_placeholders():
    blocks = python_blocks()
    assert len(blocks) >= 8
    for line, code in blocks:
        assert not placeholders(code), f"README.md:{line}: {placeholders(code)}"
    assert placeholders("Data(x=...)\nrun('runs/<timestamp>')  # ... is fine here") == [
        "line 1: ...", "line 2: 'runs/<timestamp>'"]


def test_every_readme_python_block_runs_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "readme"}
    exec("import gsat", ns)
    after = {}  # first line of a block -> what it defined (a shallow copy of the namespace)
    for line, code in python_blocks():
        # padded so that a traceback names the README's own line numbers
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), ns)
        after[line] = dict(ns)
    lines = sorted(after)
    assert len(lines) == len(python_blocks()) >= 8

    # own graphs: saved, trained on by the run driver, explained from the finished run
    assert len(torch.load(tmp_path / "graphs.pt", weights_only=False)) == 200
    results = json.loads((tmp_path / "runs" / "graphs" / "results.json").read_text())
    assert results["seeds"] == [0] and [r["seed"] for r in results["runs"]] == [0]
    run = ns["run"]
    assert isinstance(run.model, gsat.GSAT) and not run.model.training
    jsonl = (tmp_path / "explained" / "explanations.jsonl").read_text().splitlines()
    assert len(jsonl) == 4 and (tmp_path / "explained" / "summary.md").exists()

    # the own-model example, seeded in the block, gives what it gives on its own
    own = after[next(line for line in lines if "make_graph" in after[line])]
    assert len(own["history"]) == 20 and own["history"][-1]["valid_metric"] >= 0.9

    # gsat.fit: one record per epoch, r at its final value, scores on the validation graphs
    history = ns["history"]
    assert len(history) == 5 and history[-1]["r"] == 0.5
    assert {"valid_metric", "valid_interp_auc", "valid_precision_at_k"} <= set(history[-1])

    # PyG explanations: the attention as edge mask, drawn
    batch, explanation = ns["batch"], ns["explanation"]
    assert explanation.edge_mask.shape == (batch.num_edges,)
    assert (tmp_path / "graph.png").stat().st_size > 0

    # a post-hoc explainer on the ERM model: one score per edge of every test graph
    scores, test_graphs = ns["scores"], ns["test_graphs"]
    assert [s.numel() for s in scores] == [g.num_edges for g in test_graphs]
    printed = capsys.readouterr().out
    assert "ExplanationScores(interp_auc=" in printed

