"""GMT's estimators as options of GSAT (gsat.core.gmt): GMT-lin gates the first layer only,
GMT-sam draws K straight-through Bernoulli subgraphs and averages their logits, and its second
stage trains a fresh classifier on the frozen attention."""
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.explain.algorithm.utils import set_masks, clear_masks
from torch_geometric.loader import DataLoader

from gsat import GSAT
from gsat.core.gmt import (GMTEstimator, check_estimator, first_layer_mask, reset_copy,
                           straight_through_bernoulli, top_share_mask, use_estimator)
from gsat.core.model import edge_mask
from gsat.errors import ConfigError
from gsat.nn import GIN
from gsat.training.engine import Evaluator, train_epoch
from conftest import ring


def _model(method="gsat", layers=2, **kw):
    torch.manual_seed(0)
    model = GSAT(GIN(3, 1, 16, num_layers=layers))
    return use_estimator(model, method, **kw)


def _graphs():
    return [ring(5 + i % 4, seed=i) for i in range(12)]


def test_straight_through_bernoulli_is_hard_with_the_gradient_of_p():
    p = torch.tensor([0.0, 1.0, 0.3, 0.7], requires_grad=True)
    m = straight_through_bernoulli(p)
    assert set(m.detach().tolist()) <= {0.0, 1.0}
    assert m[0] == 0 and m[1] == 1
    (m * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert p.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_top_share_mask_keeps_the_ceiling_of_each_groups_share():
    score = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7])
    group = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    keep = top_share_mask(score, group, 0.5)
    # group 0: ceil(1.5) = 2 of 3 (0.9, 0.5); group 1: 2 of 4 (0.8, 0.7)
    assert keep.tolist() == [False, True, True, False, True, False, True]
    assert top_share_mask(score, group, 1.0).all()
    with pytest.raises(ValueError, match="ratio"):
        top_share_mask(score, group, 0.0)


def test_gmt_sam_draws_k_subgraphs_and_averages_their_logits(small_batch):
    model = _model("gmt_sam", samples=3).eval()
    torch.manual_seed(5)
    logits = model(small_batch).logits
    # the same K draws by hand: eval attention, K Bernoulli masks, mean of the logits
    att = model.explain(small_batch)
    torch.manual_seed(5)
    runs = []
    for _ in range(3):
        mask = torch.bernoulli(att)
        with edge_mask(model.backbone, mask, small_batch.edge_index):
            runs.append(model.gated_forward(small_batch.x, small_batch.edge_index,
                                            small_batch.batch))
    assert torch.allclose(logits, torch.stack(runs).mean(0), atol=1e-6)
    assert not torch.allclose(runs[0], runs[1])  # the draws differ: the mean is of K samples
    one = _model("gmt_sam", samples=1).eval()
    torch.manual_seed(5)
    assert torch.allclose(one(small_batch).logits, runs[0], atol=1e-6)


def test_gmt_sam_gradient_reaches_the_extractor_through_the_hard_samples(small_batch):
    model = _model("gmt_sam", samples=2)
    model.info_loss_coef = 0.0  # the prediction loss alone
    model.train()
    out = model(small_batch)
    loss, _ = model.loss(out, small_batch.y, 0)
    loss.backward()
    grads = [p.grad for p in model.extractor.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_gmt_lin_gates_the_first_layer_only(small_batch):
    model = _model("gmt_lin", layers=3).eval()
    seen = []
    for conv in model.backbone.convs:
        conv.register_forward_pre_hook(
            lambda m, args: seen.append(m.explain is True and m._edge_mask is not None))
    logits = model(small_batch).logits
    assert seen[-3:] == [True, False, False]
    # the same as layer 1 gated by the attention and later layers by unit weights
    att = model.explain(small_batch)
    bb, ei = model.backbone, small_batch.edge_index
    set_masks(bb, torch.ones_like(att), ei, apply_sigmoid=False)
    set_masks(bb.convs[0], att, ei, apply_sigmoid=False)
    try:
        expect = bb(small_batch.x, ei, small_batch.batch)
    finally:
        clear_masks(bb)
    assert torch.allclose(logits, expect, atol=1e-6)
    gsat_logits = _model("gsat", layers=3).eval()(small_batch).logits
    assert not torch.allclose(logits, gsat_logits)  # GSAT gates every layer


def test_first_layer_mask_clears_on_exit(small_batch):
    bb = GIN(3, 1, 8)
    with pytest.raises(RuntimeError):
        with first_layer_mask(bb, torch.ones(small_batch.num_edges), small_batch.edge_index):
            raise RuntimeError
    assert all(c._edge_mask is None for c in bb.convs)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_stage2_freezes_the_extractor_and_trains_a_fresh_classifier():
    model = _model("gmt_sam", samples=2, stage2_from=1, stage2_input="top")
    clf0 = _state(model.estimator.classifier)
    bb0 = _state(model.backbone)
    # fresh: newly initialised, not the backbone's weights
    assert any(not torch.equal(clf0[k], bb0[k]) for k in clf0 if k.endswith("weight"))
    loader = DataLoader(_graphs(), batch_size=4, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ev = Evaluator("binary")
    model.start_epoch(0)
    train_epoch(model, loader, opt, 0, "cpu", ev)
    assert model.estimator.stage == 1
    assert all(torch.equal(v, clf0[k]) for k, v in _state(model.estimator.classifier).items())
    frozen_ext, frozen_bb = _state(model.extractor), _state(model.backbone)
    for epoch in (1, 2):
        model.start_epoch(epoch)
        ep = train_epoch(model, loader, opt, epoch, "cpu", ev)
        assert ep["train_info"] == 0.0
    assert model.estimator.stage == 2
    for before, module in ((frozen_ext, model.extractor), (frozen_bb, model.backbone)):
        after = _state(module)
        assert all(torch.equal(after[k], before[k]) for k in before)  # buffers included
    trained = _state(model.estimator.classifier)
    assert any(not torch.equal(trained[k], clf0[k]) for k in clf0)


@pytest.mark.parametrize("method", ["gsat", "gmt_lin"])
def test_any_estimator_can_have_a_second_stage(method, small_batch):
    model = _model(method, stage2_from=1)
    plain = _model(method)  # same weights (same seed), no second stage
    model.eval(), plain.eval()
    # the first stage is the estimator's own forward pass
    assert torch.allclose(model(small_batch).logits, plain(small_batch).logits)
    loader = DataLoader(_graphs(), batch_size=4, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ev = Evaluator("binary")
    model.start_epoch(0)
    first = train_epoch(model, loader, opt, 0, "cpu", ev)
    assert first["train_info"] > 0.0 and model.estimator.stage == 1
    model.eval()
    att, stage1_logits = model.explain(small_batch), model(small_batch).logits
    frozen = {**_state(model.backbone), **{"ext." + k: v for k, v in
                                           _state(model.extractor).items()}}
    clf0 = _state(model.estimator.classifier)
    for epoch in (1, 2):
        model.start_epoch(epoch)
        assert train_epoch(model, loader, opt, epoch, "cpu", ev)["train_info"] == 0.0
    assert model.estimator.stage == 2
    after = {**_state(model.backbone), **{"ext." + k: v for k, v in
                                          _state(model.extractor).items()}}
    assert all(torch.equal(after[k], frozen[k]) for k in frozen)
    assert any(not torch.equal(v, clf0[k]) for k, v in
               _state(model.estimator.classifier).items())
    model.eval()
    out = model(small_batch)
    assert torch.allclose(out.edge_att, att) and torch.allclose(model.explain(small_batch), att)
    # the prediction is the new classifier's, not the frozen first-stage model's
    assert not torch.allclose(out.logits, stage1_logits)


def test_stage2_frozen_mode_train_re_estimates_the_backbones_statistics_only():
    model = _model("gmt_sam", samples=2, stage2_from=1, stage2_frozen_mode="train")
    loader = DataLoader(_graphs(), batch_size=4, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ev = Evaluator("binary")
    for epoch in (0, 1):
        model.start_epoch(epoch)
        train_epoch(model, loader, opt, epoch, "cpu", ev)
    assert model.estimator.stage == 2
    ext, bb = _state(model.extractor), _state(model.backbone)
    params = {n for n, _ in model.backbone.named_parameters()}
    model.start_epoch(2)
    train_epoch(model, loader, opt, 2, "cpu", ev)
    after = _state(model.backbone)
    # weights frozen, batch-norm running statistics re-estimated on the ungated pass
    assert all(torch.equal(after[k], bb[k]) for k in params)
    assert any(not torch.equal(after[k], bb[k]) for k in bb if k.endswith("running_mean"))
    assert all(torch.equal(v, ext[k]) for k, v in _state(model.extractor).items())
    # evaluation reads the frozen parts in evaluation mode, with those statistics
    batch = next(iter(DataLoader(_graphs(), batch_size=12)))
    model.eval()
    assert torch.allclose(model(batch).edge_att, model.explain(batch))
    # the default keeps every buffer of the frozen parts as the first stage left it
    same = _model("gmt_sam", samples=2, stage2_from=1)
    opt = torch.optim.Adam(same.parameters(), lr=1e-2)
    for epoch in (0, 1, 2):
        same.start_epoch(epoch)
        if epoch == 2:
            bb = _state(same.backbone)
        train_epoch(same, loader, opt, epoch, "cpu", ev)
    assert all(torch.equal(v, bb[k]) for k, v in _state(same.backbone).items())


def test_stage2_classifier_reads_the_frozen_attention(small_batch):
    model = _model("gmt_sam", stage2_from=1, stage2_input="top", stage2_top_ratio=0.5)
    model.start_epoch(1)
    model.eval()
    out = model(small_batch)
    att = model.explain(small_batch)
    assert torch.allclose(out.edge_att, att)
    weights = model.estimator.stage2_weights(att, small_batch.edge_index, small_batch.batch)
    clf = model.estimator.classifier
    with edge_mask(clf, weights, small_batch.edge_index):
        expect = clf(small_batch.x, small_batch.edge_index, small_batch.batch)
    assert torch.allclose(out.logits, expect, atol=1e-6)
    assert (weights == 0).sum() > 0  # the lower half of each graph's edges is removed


def test_stage2_copy_init_starts_from_the_trained_backbone():
    model = _model("gmt_sam", stage2_from=1, stage2_init="copy")
    model.start_epoch(1)
    bb, clf = _state(model.backbone), _state(model.estimator.classifier)
    assert all(torch.equal(clf[k], bb[k]) for k in bb)


def test_reset_copy_initialises_afresh_and_keeps_the_architecture():
    torch.manual_seed(0)
    bb = GIN(3, 1, 8)
    fresh = reset_copy(bb)
    assert [k for k in fresh.state_dict()] == [k for k in bb.state_dict()]
    assert not torch.equal(fresh.convs[0].nn[0].weight, bb.convs[0].nn[0].weight)


def test_the_estimator_is_part_of_the_state_dict_and_loads_back(small_batch):
    model = _model("gmt_sam", samples=2, stage2_from=3)
    model.start_epoch(3)
    other = _model("gmt_sam", samples=2, stage2_from=3)
    other.load_state_dict(model.state_dict())
    assert other.estimator.stage == 2
    model.eval(), other.eval()
    assert torch.allclose(model(small_batch).logits, other(small_batch).logits)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="gmt_xyz"), "method must be one of"),
    (dict(method="gmt_sam", samples=0), "samples"),
    (dict(method="gmt_lin", samples=4), "gmt_sam"),
    (dict(method="gsat", samples=4), "samples belong to gmt_sam; gsat draws no samples"),
    (dict(method="gsat", stage2_from=3, warmup_epochs=2), "warmup_epochs belongs to gmt_sam"),
    (dict(method="gmt_sam", stage2_from=0), "second stage"),
    (dict(method="gmt_sam", stage2_input="hard"), "stage2_input"),
    (dict(method="gmt_sam", stage2_top_ratio=1.5), "stage2_top_ratio"),
    (dict(method="gmt_sam", stage2_init="warm"), "stage2_init"),
    (dict(method="gmt_sam", stage2_from=3, stage1_pick="first"), "stage1_pick must be"),
    (dict(method="gmt_sam", stage1_pick="best"), "set stage2_epochs too"),
    (dict(method="gmt_sam", warmup_epochs=-1), "warmup_epochs must be"),
    (dict(method="gmt_sam", stage2_from=3, stage2_frozen_mode="batch"),
     "stage2_frozen_mode must be eval or train"),
    (dict(method="gmt_sam", stage2_frozen_mode="train"), "set stage2_epochs too"),
    (dict(method="gmt_sam", warmup_epochs=1.5), "warmup_epochs must be"),
    (dict(method="gmt_lin", warmup_epochs=3), "warmup_epochs belongs to gmt_sam"),
    (dict(method="gmt_sam", warmup_info_factor=float("nan")), "warmup_info_factor"),
])
def test_impossible_estimator_settings_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        check_estimator(**kwargs)


def test_gmt_sam_warmup_draws_one_subgraph_and_weighs_the_info_loss(small_batch):
    model = _model("gmt_sam", samples=3, warmup_epochs=2, warmup_info_factor=2.0).eval()
    one = _model("gmt_sam", samples=1).eval()
    three = _model("gmt_sam", samples=3).eval()
    for epoch, draws in ((0, one), (1, one), (2, three), (7, three)):
        model.start_epoch(epoch)
        torch.manual_seed(5)
        logits = model(small_batch).logits
        torch.manual_seed(5)
        assert torch.allclose(logits, draws(small_batch).logits, atol=1e-6), epoch
    model.train()
    for epoch, factor in ((0, 2.0), (1, 2.0), (2, 1.0)):
        model.start_epoch(epoch)
        out = model(small_batch)
        loss, parts = model.loss(out, small_batch.y, epoch)
        want = parts["pred"] + factor * model.info_loss_coef * parts["info"]
        assert abs(loss.item() - want) < 1e-5, epoch
    # a model that no training loop has started is not in its warm-up
    fresh = _model("gmt_sam", samples=3, warmup_epochs=2).eval()
    torch.manual_seed(5)
    got = fresh(small_batch).logits
    torch.manual_seed(5)
    assert torch.allclose(got, three(small_batch).logits, atol=1e-6)
    assert "warmup_epochs=2" in repr(fresh.estimator)


def test_use_estimator_refuses_a_model_without_attention_and_gsat_removes_it():
    from gsat.core.model import ERM

    with pytest.raises(TypeError, match="GSAT"):
        use_estimator(ERM(GIN(3, 1, 8)), "gmt_lin")
    model = _model("gmt_lin")
    assert isinstance(model.estimator, GMTEstimator)
    assert use_estimator(model, "gsat").estimator is None
    assert not any(k.startswith("estimator.") for k in model.state_dict())
    with pytest.raises(ConfigError, match="samples belong to gmt_sam"):
        use_estimator(model, "gsat", samples=3)  # checked even without an estimator
    assert use_estimator(model, "gsat", stage2_from=2).estimator.method == "gsat"


def test_batch_of_one_estimator_forward_keeps_gsat_output_fields(small_batch):
    model = _model("gmt_lin").eval()
    out = model(Batch.from_data_list([ring(6)]))
    assert out.edge_att.shape == (12,) and out.att_logits is not None


def _rec(epoch, metric, loss, r=0.5):
    return {"epoch": epoch, "r": r, "valid_metric": metric, "valid_loss": loss}


def test_stage1_pick_best_freezes_the_best_first_stage_epoch_by_the_selection_rule():
    from gsat.core.selection import Selector

    model = _model("gmt_sam", stage2_from=6, stage1_pick="best")
    est, sel = model.estimator, Selector(min_epoch=1, final_r=0.5)
    weights = {}

    def epoch(e, metric, loss, r=0.5):
        with torch.no_grad():  # stands in for an epoch of training: new weights
            for p in list(model.backbone.parameters()) + list(model.extractor.parameters()):
                p.add_(torch.randn_like(p))
        weights[e] = (_state(model.backbone), _state(model.extractor))
        return est.consider(model, _rec(e, metric, loss, r), sel)

    assert epoch(0, 0.9, 0.1)  # nothing qualifies yet (epoch <= 1): best of all so far
    assert not epoch(1, 0.8, 0.1)
    assert epoch(2, 0.6, 0.5, r=0.7) is False  # r not final: worse than 0.9, not kept
    assert epoch(3, 0.7, 0.3)  # the first qualifying epoch replaces any non-qualifying one
    assert epoch(4, 0.7, 0.2)  # a tie goes to the lower validation loss
    assert not epoch(5, 0.7, 0.25)
    assert int(est.kept_epoch) == 4
    model.start_epoch(6)
    assert int(est.stage) == 2
    for kept, module in zip(weights[4], (model.backbone, model.extractor)):
        now = _state(module)
        assert all(torch.equal(now[k], kept[k]) for k in kept)  # buffers included
    assert not est.consider(model, _rec(6, 1.0, 0.0), sel)  # second-stage epochs: ignored


def test_stage1_pick_last_keeps_no_copy_and_best_survives_the_state_dict(small_batch):
    last = _model("gmt_sam", stage2_from=3)
    assert not last.estimator.keeps_best
    assert not any(k.startswith("estimator.kept") for k in last.state_dict())
    model = _model("gmt_sam", stage2_from=3, stage1_pick="best")
    from gsat.core.selection import Selector

    assert model.estimator.consider(model, _rec(2, 0.9, 0.1), Selector(0, 0.5))
    kept = _state(model.backbone)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.mul_(2.0)
    other = _model("gmt_sam", stage2_from=3, stage1_pick="best")
    other.load_state_dict(model.state_dict())  # e.g. resumed from last.pt
    other.start_epoch(3)
    assert int(other.estimator.kept_epoch) == 2
    now = _state(other.backbone)
    assert all(torch.equal(now[k], kept[k]) for k in kept)
