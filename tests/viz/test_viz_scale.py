"""Colour scales, top-k highlighting and titles of the pictures (gsat.viz.scale)."""
import numpy as np
import pytest
import torch

from gsat.viz.scale import (attention_colours, class_name, colour_at, prediction_title,
                            scale_bounds, scaled_attention, top_k_mask)


def test_relative_scale_spans_the_graphs_own_range():
    att = np.array([0.64, 0.80, 0.95, 0.70])
    rel = scaled_attention(att, "relative")
    assert rel == pytest.approx([0.0, (0.80 - 0.64) / 0.31, 1.0, (0.70 - 0.64) / 0.31])
    # on the absolute scale the same molecule stays in a narrow band
    assert scaled_attention(att, "absolute") == pytest.approx(att)
    assert scale_bounds(att, "relative") == (0.64, 0.95)
    assert scale_bounds(att, "absolute") == (0.0, 1.0)
    # distinct colours at both ends of the relative scale, nearly one colour on the absolute
    rel_c, abs_c = attention_colours(att, "relative"), attention_colours(att, "absolute")
    spread = lambda cs: max(np.abs(np.subtract(a, b)).sum() for a in cs for b in cs)  # noqa: E731
    assert spread(rel_c) > 2 * spread(abs_c)
    assert rel_c[2] == colour_at(1.0) and rel_c[0] == colour_at(0.0)


def test_rank_scale_shares_ties_and_ignores_outliers():
    att = torch.tensor([0.1, 0.5, 0.5, 100.0, 0.2])
    assert scaled_attention(att, "rank") == pytest.approx([0.0, 0.625, 0.625, 1.0, 0.25])
    # relative squeezes everything but the outlier into one end; rank does not
    assert scaled_attention(att, "relative")[:3].max() < 0.01


def test_constant_and_empty_attention():
    assert scaled_attention([0.7, 0.7], "relative") == pytest.approx([0.5, 0.5])
    assert scaled_attention([0.7, 0.7], "rank") == pytest.approx([0.5, 0.5])
    assert scaled_attention([], "rank").size == 0
    assert scaled_attention([1.4, -0.2], "absolute") == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError, match="unknown colour scale 'log'; choose one of: relative"):
        scaled_attention([0.1], "log")


def test_top_k_and_threshold_selection():
    att = [0.3, 0.9, 0.5, 0.9, 0.1]
    assert top_k_mask(att).all()
    assert top_k_mask(att, k=2).tolist() == [False, True, False, True, False]
    assert top_k_mask(att, k=1).tolist() == [False, True, False, False, False]  # first tie
    assert top_k_mask(att, k=0).sum() == 0
    assert top_k_mask(att, threshold=0.5).tolist() == [False, True, True, True, False]
    assert top_k_mask(att, k=1, threshold=0.3).tolist() == [True, True, True, True, False]
    with pytest.raises(ValueError, match="top-k must be 0 or more"):
        top_k_mask(att, k=-1)


def test_titles_say_what_the_probability_is_of():
    # a binary prediction carries the probability of the positive class (prediction_record)
    assert prediction_title(0, 0.01, "binary", ["inactive", "active"]) == "P(active) = 0.01"
    assert prediction_title(1, 0.75, "binary", ["inactive", "active"], label=0,
                            graph_id="mol7") == "mol7: P(active) = 0.75; true: inactive"
    assert prediction_title(1, 0.75, "binary") == "P(class 1) = 0.75"
    assert prediction_title(2, 0.6, "multiclass", ["cycle", "house", "crane"], label=1) == \
        "predicted crane, P = 0.60; true: house"
    assert prediction_title([0, 1], [0.2, 0.9], "multilabel", ["tox", "sol"], label=[0, 1]) \
        == "P(tox) = 0.20, P(sol) = 0.90; true: sol"
    assert prediction_title(1.23456, None, "regression", label=[1.1]) == \
        "predicted 1.23; true: 1.1"
    assert prediction_title(1, 0.8, "binary", label=float("nan")).endswith("true: unknown")
    assert class_name(5, ["a"]) == "class 5"


def test_titles_of_predictions_from_logits():
    from gsat.core.task import prediction_record

    for logit, shown in ((-4.6, "0.01"), (2.2, "0.90")):
        rec = prediction_record(torch.tensor([logit]), "binary")
        assert prediction_title(rec["prediction"], rec["probability"], "binary",
                                ["inactive", "active"]) == f"P(active) = {shown}"
    rec = prediction_record(torch.tensor([0.0, 2.0, 0.0]), "multiclass")
    assert prediction_title(rec["prediction"], rec["probability"], "multiclass",
                            ["cycle", "house", "crane"]) == "predicted house, P = 0.79"
