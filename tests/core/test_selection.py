"""Model selection: the paper's rule, NaN metrics and ties."""
import math

from gsat.core.selection import Selection, Selector


def rec(epoch, metric, loss, r=0.5):
    return {"epoch": epoch, "valid_metric": metric, "valid_loss": loss, "r": r}


def test_only_late_epochs_at_the_final_r_qualify():
    s = Selector(min_epoch=10, final_r=0.5)
    assert not s.qualifies(10, 0.5) and s.qualifies(11, 0.5)
    assert not s.qualifies(20, 0.6)
    assert s.qualifies(20, 0.5 + 1e-12)  # float noise of the schedule
    assert s.qualifies(11, None)  # ERM records carry no r
    assert Selector(min_epoch=10, final_r=None).qualifies(11, 0.9)


def test_better_ranks_nan_metrics_last_and_breaks_ties_by_loss():
    assert Selector.better(rec(0, 0.5, 1.0), None)
    assert Selector.better(rec(0, 0.6, 9.0), rec(1, 0.5, 0.1))
    assert not Selector.better(rec(0, math.nan, 0.0), rec(1, 0.1, 5.0))
    assert Selector.better(rec(0, 0.1, 5.0), rec(1, math.nan, 0.0))
    # equal metric: the lower validation loss wins; equal loss too: the earlier one stays
    assert Selector.better(rec(2, 0.8, 0.2), rec(1, 0.8, 0.3))
    assert not Selector.better(rec(2, 0.8, 0.3), rec(1, 0.8, 0.2))
    assert not Selector.better(rec(2, 0.8, 0.3), rec(1, 0.8, 0.3))
    # two NaN metrics tie, and the loss decides
    assert Selector.better(rec(2, math.nan, 0.1), rec(1, math.nan, 0.2))


def test_selection_prefers_qualifying_epochs_and_falls_back_to_all():
    sel = Selection(Selector(min_epoch=1, final_r=0.5))
    history = [rec(0, 0.99, 0.1, r=0.9), rec(1, 0.7, 0.5), rec(2, 0.8, 0.4, r=0.5),
               rec(3, 0.8, 0.3), rec(4, math.nan, 0.0)]
    for r_ in history:
        qual, any_ = sel.candidate(r_)
        if qual:
            sel.best_qual = r_
        if any_:
            sel.best_any = r_
    chosen, how = sel.chosen()
    assert how == "final_r" and chosen["epoch"] == 3  # tie at 0.8 broken by the loss
    assert sel.best_any["epoch"] == 0
    early = Selection(Selector(min_epoch=10, final_r=0.5))
    for r_ in history:
        if early.candidate(r_)[1]:
            early.best_any = r_
    assert early.chosen() == (history[0], "all_epochs")


def test_an_error_metric_selects_the_lowest_value():
    from gsat.core.selection import Selection, Selector

    low, high = {"valid_metric": 0.4, "valid_loss": 1.0}, {"valid_metric": 0.9, "valid_loss": 1.0}
    nan = {"valid_metric": float("nan"), "valid_loss": 0.0}
    assert Selector.better(high, low) and not Selector.better(low, high)
    assert Selector.better(low, high, higher_is_better=False)
    assert Selector.better(low, nan, higher_is_better=False)
    assert not Selector.better(nan, low, higher_is_better=False)
    sel = Selection(Selector(0, None, higher_is_better=False))
    for epoch, value in enumerate([0.9, 0.4, 0.6]):
        rec = {"epoch": epoch + 1, "valid_metric": value, "valid_loss": 1.0}
        qual, _ = sel.candidate(rec)
        if qual:
            sel.best_qual = rec
    assert sel.chosen()[0]["epoch"] == 2


def test_regression_loss_and_metrics():
    import math

    import torch

    from gsat.core.functional import prediction_loss
    from gsat.metrics.prediction import Evaluator

    pred = torch.tensor([[1.0], [2.0], [4.0]])
    y = torch.tensor([[0.0], [float("nan")], [2.0]])
    assert float(prediction_loss(pred, y, "regression")) == 2.5  # (1 + 4) / 2
    assert float(prediction_loss(pred, y, "regression", "mae")) == 1.5
    assert Evaluator("regression")(pred, y) == math.sqrt(2.5)
    assert Evaluator("regression", "mae")(pred, y) == 1.5
    assert not Evaluator("regression").higher_is_better and Evaluator("binary").higher_is_better
