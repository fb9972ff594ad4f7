"""GraphMask's gate scores keep the order of gates that clip or saturate alike."""
import torch

from explainer_cases import make_graphs


def test_graphmask_scores_order_edges_whose_gates_clip_alike():
    # Gates of trained GraphMask models clip to exactly 0 for most edges; the score is
    # the open probability, which keeps the order of the logits instead of tying them.
    from gsat.explain.graphmask import expected_open, hard_concrete

    logits = torch.tensor([-9.0, -6.0, -3.0, 0.0, 3.0, 6.0])
    gates = hard_concrete(logits, training=False)
    assert gates[0] == gates[1] == gates[2] == 0.0
    scores = expected_open(logits)
    assert bool((scores[1:] > scores[:-1]).all())
    assert bool(((scores > 0) & (scores < 1)).all())


def test_graphmask_scores_keep_the_order_of_saturated_gates():
    # trained gates saturate: all open in one layer, all but closed in the other. The mean
    # of 1.0 and ~1e-11 is exactly 0.5 in float32 for every edge; the scores must still
    # order the edges as the closed layer's logits do.
    from gsat.explain import graphmask

    class Fixed:
        def logits(self, rec):
            return [torch.full((4,), 30.0), torch.tensor([-40.0, -30.0, -26.0, -35.0])]

    graphs = make_graphs()
    adapter = lambda *a, **k: None  # noqa: E731 (the recorder is not used by Fixed)
    rec = type("Rec", (), {"mode": None})()
    scores = graphmask.graphmask_scores(adapter, rec, Fixed(), graphs[0])
    assert scores.argsort().tolist() == [0, 3, 1, 2]
    assert scores.unique().numel() == 4
