
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.explain import Explanation
from torch_geometric.explain.metric import (characterization_score, fidelity,
                                            groundtruth_metrics)
from torch_geometric.loader import DataLoader

import gsat
from gsat.data.ba_2motifs import generate_ba_2motifs
from gsat.explain import GSATModelAdapter, gsat_explainer, to_explanation
from gsat.metrics.interpretation import interp_auc

pytest.importorskip("torchmetrics")


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    graphs = generate_ba_2motifs(num_graphs=60)
    model = gsat.GSAT(gsat.GIN(10, 1, hidden_channels=16))
    gsat.fit(model, DataLoader(graphs[::2] + graphs[1::4], batch_size=16, shuffle=True),
             epochs=6, lr=1e-2, progress=False,
             r_schedule=dict(init_r=0.9, final_r=0.7, decay_interval=2))
    model.eval()
    return model, Batch.from_data_list(graphs[1::4][:12])


def test_explanation_fields(trained):
    model, batch = trained
    exp = to_explanation(model, batch)
    assert isinstance(exp, Explanation)
    assert torch.allclose(exp.edge_mask, model.explain(batch))
    assert torch.equal(exp.prediction, model(batch).logits)
    assert torch.equal(exp.target, (exp.prediction > 0).long().view(-1))
    assert torch.equal(exp.x, batch.x) and torch.equal(exp.edge_index, batch.edge_index)
    assert exp.validate()
    phen = to_explanation(model, batch, explanation_type="phenomenon")
    assert torch.equal(phen.target, batch.y.view(-1))


def test_adapter_with_attention_as_mask_reproduces_gsat(trained):
    model, batch = trained
    explainer = gsat_explainer(model)
    with torch.no_grad():
        masked = explainer.get_masked_prediction(batch.x, batch.edge_index,
                                                 edge_mask=model.explain(batch),
                                                 batch=batch.batch)
        plain = explainer.get_prediction(batch.x, batch.edge_index, batch=batch.batch)
    ref = model(batch).logits
    assert torch.allclose(masked, ref, atol=1e-5) and torch.allclose(plain, ref)
    # a different mask changes the prediction: the mask really gates the messages
    with torch.no_grad():
        zero = explainer.get_masked_prediction(batch.x, batch.edge_index,
                                               edge_mask=torch.zeros(batch.num_edges),
                                               batch=batch.batch)
    assert not torch.allclose(zero, ref)
    # no mask is left behind
    assert all(getattr(m, "_edge_mask", None) is None for m in model.modules())


def test_groundtruth_metrics(trained):
    model, batch = trained
    gt = batch.edge_label
    acc, auroc = groundtruth_metrics(gt.float(), gt, ["accuracy", "auroc"])
    assert acc == 1.0 and auroc == 1.0
    exp = to_explanation(model, batch)
    auc = groundtruth_metrics(exp.edge_mask, gt, "auroc")
    assert auc == pytest.approx(interp_auc(exp.edge_mask, gt), abs=1e-4)


def test_fidelity_with_a_hard_mask(trained):
    model, batch = trained
    explainer = gsat_explainer(model, threshold_config=dict(threshold_type="topk_hard",
                                                            value=12))
    exp = to_explanation(model, batch, explainer=explainer)
    assert set(exp.edge_mask.unique().tolist()) <= {0.0, 1.0}
    assert int(exp.edge_mask.sum()) == 12  # PyG's top-k over all edges of the batch
    pos, neg = fidelity(explainer, exp)
    assert 0.0 <= pos <= 1.0 and 0.0 <= neg <= 1.0
    score = characterization_score(torch.tensor(pos), torch.tensor(neg))
    assert 0.0 <= float(score) <= 1.0

    # fid+/fid- of a random hard mask, computed by hand: for GIN (sum aggregation) a message
    # multiplied by 0 is the same as a removed edge
    mask = (torch.rand(batch.num_edges, generator=torch.Generator().manual_seed(1)) < 0.5).float()

    def logits_on(edge_index):
        with torch.no_grad(), model._gated():
            emb = model.backbone.get_emb(batch.x, edge_index, batch.batch)
            return model.backbone.get_pred_from_emb(emb, batch.batch)

    keep = logits_on(batch.edge_index[:, mask.bool()])
    drop = logits_on(batch.edge_index[:, ~mask.bool()])
    with torch.no_grad():
        masked = explainer.get_masked_prediction(batch.x, batch.edge_index, edge_mask=mask,
                                                 batch=batch.batch)
    assert torch.allclose(masked, keep, atol=1e-5) and not torch.allclose(keep, drop)
    hand = Explanation(edge_mask=mask, x=batch.x, edge_index=batch.edge_index,
                       batch=batch.batch, target=exp.target)
    hand._model_args = ["batch"]
    pos_h, neg_h = fidelity(explainer, hand)
    pred = lambda logits: (logits > 0).long().view(-1)  # noqa: E731
    assert pos_h == pytest.approx(1 - float((pred(drop) == exp.target).float().mean()))
    assert neg_h == pytest.approx(1 - float((pred(keep) == exp.target).float().mean()))


def test_visualize_graph_and_mode(trained, tmp_path):
    model, batch = trained
    model.train()
    try:
        exp = to_explanation(model, batch[0])
        assert model.training  # explaining leaves the mode as it was
    finally:
        model.eval()
    exp.visualize_graph(str(tmp_path / "g.png"), backend="networkx")
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_adapter_rejects_other_models():
    with pytest.raises(TypeError, match="gsat.GSAT"):
        GSATModelAdapter(gsat.ERM(gsat.GIN(3, 1)))
