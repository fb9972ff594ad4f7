"""Explainers of known behaviour for the benchmark tests, and a small BA-2Motifs."""
import functools

from gsat.data import DATASETS
from gsat.data.ba_2motifs import load_ba_2motifs


def small_ba_2motifs(monkeypatch, num_graphs=40):
    """Make the registry's BA-2Motifs :obj:`num_graphs` graphs for one test."""
    monkeypatch.setitem(DATASETS, "ba_2motifs", functools.partial(load_ba_2motifs,
                                                                  num_graphs=num_graphs))


def oracle_key(g):
    return tuple(g.edge_index.flatten().tolist())


class Oracle:
    """An explainer that is right (scores = ground truth) on the graphs of one split and
    exactly wrong on the others: its setting ``good_on`` says which split it is right on."""

    valid_keys: set = set()
    calls = 0

    @classmethod
    def make(cls, good_on="test"):
        from gsat.explain.base import EdgeExplainer

        class Oracle(EdgeExplainer):
            def __init__(self):
                super().__init__(good_on=good_on)

            def explain_graph(self, model, data, task):
                cls.calls += 1
                right = (oracle_key(data) in cls.valid_keys) == (self.settings["good_on"] == "valid")
                lab = data.edge_label.float()
                return lab if right else 1 - lab

        return Oracle()


def learner(fits, score):
    """A learning explainer class for the tuning tests: fitting appends its setting k to
    :obj:`fits`; its edge scores are :obj:`score(k, ground_truth)`."""
    from gsat.explain.base import EdgeExplainer

    class Learner(EdgeExplainer):
        needs_fit = True

        def __init__(self, k=1):
            super().__init__(k=k)

        def fit(self, model, graphs, task, device="cpu", progress=False):
            fits.append(self.settings["k"])

        def explain_graph(self, model, data, task):
            return score(self.settings["k"], data.edge_label.float())

    return Learner
