import math

import pytest
import torch

from gsat.core import functional as F


def test_concrete_sample_eval_is_sigmoid():
    logits = torch.randn(50)
    assert torch.allclose(F.concrete_sample(logits, training=False), logits.sigmoid())


def test_concrete_sample_training_matches_relaxed_bernoulli_mean():
    # With temperature 1 the relaxed sample is > 0.5 exactly when logit + logistic noise > 0,
    # which happens with probability sigmoid(logit).
    logits = torch.full((200_000,), 0.8)
    s = F.concrete_sample(logits, temperature=1.0, training=True)
    assert ((s > 0.5).float().mean() - torch.sigmoid(torch.tensor(0.8))).abs() < 0.01
    assert bool(((s > 0) & (s < 1)).all())


def test_concrete_sample_low_temperature_is_nearly_binary():
    s = F.concrete_sample(torch.zeros(10_000), temperature=0.01, training=True)
    assert ((s < 0.01) | (s > 0.99)).float().mean() > 0.95


def test_concrete_sample_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        F.concrete_sample(torch.zeros(3), temperature=0.0)


@pytest.mark.parametrize("r", [0.1, 0.5, 0.7, 0.9])
def test_bernoulli_kl_zero_at_r_and_positive_elsewhere(r):
    assert F.bernoulli_kl(torch.tensor([r]), r).abs().item() < 1e-5
    att = torch.tensor([0.01, 0.3, 0.95])
    kl = F.bernoulli_kl(att, r)
    expected = att * torch.log(att / r) + (1 - att) * torch.log((1 - att) / (1 - r))
    assert torch.allclose(kl, expected, atol=1e-4)
    assert bool((kl[(att - r).abs() > 0.05] > 0).all())


def test_bernoulli_kl_rejects_r_outside_unit_interval():
    with pytest.raises(ValueError, match="r must lie"):
        F.bernoulli_kl(torch.tensor([0.5]), 1.0)


def test_r_schedule_paper_values():
    r = [F.r_schedule(e, 0.9, 0.5, 0.1, 10) for e in range(100)]
    assert r[0] == 0.9 and r[9] == 0.9 and r[10] == 0.8
    assert r[39] == pytest.approx(0.6) and r[40] == 0.5 and r[99] == 0.5
    assert F.r_schedule(40, 0.9, 0.5, 0.1, 10) == 0.5  # exact, so selection can test ==
    assert F.r_schedule(3, fixed_r=0.7) == 0.7
    with pytest.raises(ValueError):
        F.r_schedule(1, decay_interval=0)


def test_lift_node_att():
    node_att = torch.tensor([0.5, 0.2, 1.0])
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    assert torch.allclose(F.lift_node_att(node_att, ei), torch.tensor([0.1, 0.2, 0.5]))


def _reverse_pairs_equal(att, ei):
    lookup = {(int(u), int(v)): float(a) for u, v, a in zip(ei[0], ei[1], att)}
    return all(math.isclose(lookup[(v, u)], a, rel_tol=1e-6) for (u, v), a in lookup.items()
               if (v, u) in lookup)


@pytest.mark.parametrize("seed", range(5))
def test_symmetrize_any_edge_order(seed):
    g = torch.Generator().manual_seed(seed)
    n = 12
    und = torch.combinations(torch.arange(n), 2)[torch.randperm(66, generator=g)[:20]].t()
    ei = torch.cat([und, und.flip(0)], 1)
    perm = torch.randperm(ei.size(1), generator=g)
    ei = ei[:, perm]
    att = torch.rand(ei.size(1), generator=g)
    sym = F.symmetrize_edge_att(att, ei, n)
    assert _reverse_pairs_equal(sym, ei)
    # each value is the mean of the two directions
    lookup = {(int(u), int(v)): float(a) for u, v, a in zip(ei[0], ei[1], att)}
    for (u, v), s in zip(ei.t().tolist(), sym.tolist()):
        assert s == pytest.approx((lookup[(u, v)] + lookup[(v, u)]) / 2, rel=1e-6)
    # permuting edges permutes the result the same way
    p2 = torch.randperm(ei.size(1), generator=g)
    assert torch.allclose(F.symmetrize_edge_att(att[p2], ei[:, p2], n), sym[p2])


def test_symmetrize_keeps_one_way_edges_and_shapes():
    ei = torch.tensor([[0, 1, 2], [1, 0, 0]])
    att = torch.tensor([0.2, 0.6, 0.9])
    out = F.symmetrize_edge_att(att, ei)
    assert torch.allclose(out, torch.tensor([0.4, 0.4, 0.9]))
    out2 = F.symmetrize_edge_att(att.view(-1, 1), ei)
    assert out2.shape == (3, 1)
    assert F.symmetrize_edge_att(torch.zeros(0), torch.zeros(2, 0, dtype=torch.long)).numel() == 0


def test_prediction_loss_tasks():
    logits = torch.tensor([[2.0], [-1.0]])
    y = torch.tensor([1, 0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits.view(-1), y.float())
    assert torch.allclose(F.prediction_loss(logits, y, "binary"), expected)
    mc = torch.randn(4, 3)
    yc = torch.tensor([0, 2, 1, 1])
    assert torch.allclose(F.prediction_loss(mc, yc, "multiclass"),
                          torch.nn.functional.cross_entropy(mc, yc))
    ml = torch.randn(3, 2)
    yl = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), 0.0]])
    mask = ~torch.isnan(yl)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(ml[mask], yl[mask])
    assert torch.allclose(F.prediction_loss(ml, yl, "multilabel"), expected)
    with pytest.raises(ValueError, match="unknown task"):
        F.prediction_loss(ml, yl, "ranking")


def test_rank_in_groups_counts_from_each_groups_first_element():
    from gsat.core.functional import rank_in_groups

    group = torch.tensor([1, 0, 1, 0, 3, 1])
    score = torch.tensor([0.2, 0.9, 0.7, 0.1, 0.5, 0.4])
    # by group, then by descending score
    order = torch.argsort(-score, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    rank = rank_in_groups(order, group)
    assert rank.tolist() == [2, 0, 0, 1, 0, 1]
    assert torch.equal(rank_in_groups(order, group, num_groups=6), rank)  # empty groups
    assert rank_in_groups(order[:0], group[:0], 2).numel() == 0
