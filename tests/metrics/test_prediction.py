"""The prediction Evaluator: accuracy and ROC AUC of each task, NaN labels, classes absent,
and OGB's evaluator behind the same interface."""
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gsat.core.task import Task
from gsat.data.base import GraphDataset
from gsat.errors import ConfigError
from gsat.metrics.prediction import Evaluator, default_metric

NAN = math.nan


def test_binary_accuracy_thresholds_the_logit_at_zero():
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-0.1], [0.0]])
    y = torch.tensor([[1.0], [0.0], [0.0], [0.0], [1.0]])  # the logit 0 predicts class 0
    assert Evaluator("binary", "acc")(logits, y) == pytest.approx(3 / 5)
    assert Evaluator("binary", "acc")(logits, y.view(-1)) == pytest.approx(3 / 5)


def test_multiclass_accuracy_takes_the_largest_logit():
    logits = torch.tensor([[0.1, 2.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.9]])
    assert Evaluator(Task.MULTICLASS)(logits, torch.tensor([1, 0, 1, 0])) == 0.75


def test_multilabel_accuracy_ignores_missing_labels():
    logits = torch.tensor([[1.0, -1.0, 3.0], [-2.0, 2.0, -1.0]])
    y = torch.tensor([[1.0, NAN, 0.0], [0.0, 1.0, NAN]])
    # labelled: (1, ok) (0 vs 3 > 0: wrong) (0, ok) (1, ok)
    assert Evaluator("multilabel", "acc")(logits, y) == pytest.approx(3 / 4)


def test_binary_rocauc_is_sklearns():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(30, 1, generator=g)
    y = (torch.rand(30, 1, generator=g) < 0.4).float()
    want = roc_auc_score(y.view(-1).numpy(), logits.view(-1).numpy())
    assert Evaluator("binary", "rocauc")(logits, y) == pytest.approx(want, abs=1e-12)


def test_multilabel_rocauc_skips_nan_labels_and_labels_without_both_classes():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(40, 4, generator=g)
    y = (torch.rand(40, 4, generator=g) < 0.5).float()
    y[torch.rand(40, 4, generator=g) < 0.3] = NAN
    y[:, 2] = torch.where(torch.isnan(y[:, 2]), y[:, 2], torch.zeros(40))  # class 1 absent
    per_label = []
    for t in (0, 1, 3):
        ok = ~torch.isnan(y[:, t])
        per_label.append(roc_auc_score(y[ok, t].numpy(), logits[ok, t].numpy()))
    got = Evaluator("multilabel")(logits, y)
    assert got == pytest.approx(float(np.mean(per_label)), abs=1e-12)
    # the label without class 1 would change the mean if it were scored
    ok = ~torch.isnan(y[:, 2])
    assert not math.isnan(got) and len(set(y[ok, 2].tolist())) == 1


def test_rocauc_without_both_classes_anywhere_is_nan():
    logits = torch.randn(6, 2)
    y = torch.tensor([[0.0, NAN], [0.0, 1.0], [NAN, 1.0], [0.0, 1.0], [0.0, NAN], [0.0, 1.0]])
    assert math.isnan(Evaluator("multilabel", "rocauc")(logits, y))
    assert math.isnan(Evaluator("binary", "rocauc")(torch.randn(4, 1), torch.ones(4, 1)))


def test_the_metric_defaults_to_the_tasks():
    assert [default_metric(t) for t in ("binary", "multiclass", "multilabel")] == \
        ["acc", "acc", "rocauc"]
    ev = Evaluator("multilabel")
    assert (ev.task, ev.metric) == (Task.MULTILABEL, "rocauc")
    assert repr(Evaluator("binary")) == "Evaluator('binary', 'acc')"


def test_the_task_and_the_metric_are_checked_when_made():
    with pytest.raises(ConfigError, match="metric must be one of acc, rocauc, rmse, mae, got 'f1'"):
        Evaluator("binary", "f1")
    with pytest.raises(ConfigError, match="unknown task 'ranking'"):
        Evaluator("ranking")


def test_a_dataset_scores_with_its_evaluator():
    common = dict(name="mine", train=[], valid=[], test=[], num_features=3, num_outputs=2)
    ds = GraphDataset(task="multilabel", metric="rocauc", **common)
    assert type(ds.evaluator) is Evaluator
    assert (ds.evaluator.task, ds.evaluator.metric) == ("multilabel", "rocauc")
    with pytest.raises(ConfigError, match="metric must be"):
        GraphDataset(task="binary", metric="auc", **common)
    with pytest.raises(ConfigError, match="its evaluator scores acc of a binary task, the "
                                          "dataset declares rocauc of a multilabel task"):
        GraphDataset(task="multilabel", metric="rocauc", evaluator=Evaluator("binary"),
                     **common)


def test_ogb_evaluator_has_the_same_interface_and_agrees():
    pytest.importorskip("ogb")
    from gsat.metrics.prediction import OGBEvaluator

    ev = OGBEvaluator("ogbg-moltox21")
    assert isinstance(ev, Evaluator) and (ev.task, ev.metric) == ("multilabel", "rocauc")
    assert OGBEvaluator("ogbg-molhiv").task == "binary"
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(50, 12, generator=g)
    y = (torch.rand(50, 12, generator=g) < 0.5).float()
    y[torch.rand(50, 12, generator=g) < 0.2] = NAN
    assert ev(logits, y) == pytest.approx(Evaluator("multilabel")(logits, y), abs=1e-12)
    assert math.isnan(ev(logits[:0], y[:0]))


def test_the_engine_falls_back_to_the_builtin_evaluator_of_the_same_metric():
    from gsat.training.engine import Engine

    class Own(Evaluator):
        pass

    own = Own("binary", "rocauc")
    engine = Engine(torch.nn.Linear(1, 1), None, [], evaluator=own)
    assert engine.evaluator_for(True) is own
    plain = engine.evaluator_for(False)
    assert type(plain) is Evaluator and (plain.task, plain.metric) == ("binary", "rocauc")
