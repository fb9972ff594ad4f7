"""PGExplainer: logit scores, and a saved fit that explains as the fitted one."""
import pytest
import torch

from explainer_cases import fit_and_explain, make_graphs, make_model
from gsat.explain.registry import make_explainer


def test_pgexplainer_explains_with_logits_that_sigmoid_would_round_to_ties():
    from gsat.explain.pgexplainer import LogitPGExplainer, _pg_algorithm

    logits = torch.tensor([-300.0, -200.0, -120.0, 0.0, 40.0, 80.0])
    assert torch.sigmoid(logits)[:3].eq(0).all() and torch.sigmoid(logits)[-2:].eq(1).all()
    out = LogitPGExplainer._post_process_mask(logits.clone(), None, apply_sigmoid=True)
    assert torch.equal(out, logits)
    hard = torch.tensor([True, True, True, True, True, False])
    assert LogitPGExplainer._post_process_mask(logits.clone(), hard)[-1] == 0.0
    algo = _pg_algorithm(epochs=1, lr=0.01, edge_size=0.05, edge_ent=1.0, temp0=5.0, temp1=2.0)
    assert isinstance(algo, LogitPGExplainer)


def test_a_saved_pgexplainer_fit_explains_as_the_fitted_one(tmp_path):
    # the benchmark saves the default row's fit for a tuning that runs after an interruption
    graphs = make_graphs()
    model = make_model("GIN", "erm", graphs)
    exp = make_explainer("pgexplainer", epochs=3)
    assert exp.fitted_state() is None  # nothing learned yet
    torch.manual_seed(0)
    want = fit_and_explain(exp, model, graphs)
    torch.save(exp.fitted_state(), tmp_path / "fit.pt")
    again = make_explainer("pgexplainer", epochs=3)
    again.load_fitted(model, "binary", torch.load(tmp_path / "fit.pt", weights_only=True))
    for a, b in zip(want, again.explain(model, graphs, "binary")):
        assert torch.equal(a, b)
    with pytest.raises(NotImplementedError, match="no fitted state"):
        make_explainer("gnnexplainer").load_fitted(model, "binary", {})
