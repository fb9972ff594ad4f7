"""The README's worked example (wrapping a user-defined GCN classifier) runs as printed."""
import math
import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- readme-example: own-model -->"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    assert text.count(MARKER) == 1, "the README must hold the marked example exactly once"
    match = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    assert match, "the marker must be followed by a ```python block"
    return match.group(1)


def test_readme_example_is_short():
    assert len(readme_example().splitlines()) < 30


def test_readme_example_runs(capsys):
    ns = {"__name__": "readme_example"}
    exec(compile(readme_example(), "README.md", "exec"), ns)
    history, model, test = ns["history"], ns["model"], ns["test"]
    assert len(history) == 20 and history[-1]["r"] == 0.7
    # the GCN backbone learns the task (chord or not) within the example's 20 epochs
    assert history[-1]["valid_metric"] >= 0.9
    att = model.explain(test)
    assert att.shape == (test.num_edges,) and bool(((att >= 0) & (att <= 1)).all())
    printed = capsys.readouterr().out.split()
    assert float(printed[0]) == history[-1]["valid_metric"]
    assert math.isclose(float(printed[1]), __import__("gsat").interp_auc(att, test.edge_label))
    # the user's GCN layers are gated by a mask without any change to them
    from gsat.core.model import edge_mask

    model.eval()
    with torch.no_grad():
        plain = model.backbone.get_emb(test.x, test.edge_index, test.batch)
        with edge_mask(model.backbone, torch.zeros(test.num_edges), test.edge_index):
            gated = model.backbone.get_emb(test.x, test.edge_index, test.batch)
    assert not torch.allclose(plain, gated)
