"""The graph cache keeps a digest of its content and the parameters that made it; a cache
that does not match either is made again."""
import pytest
import torch

from gsat.data import load_dataset
from gsat.data.base import load_graphs, save_graphs
from gsat.data.ba_2motifs import generate_ba_2motifs

PARAMS = {"generator": "test", "num_graphs": 6}


@pytest.fixture
def cache(tmp_path):
    path = tmp_path / "graphs.pt"
    save_graphs(generate_ba_2motifs(num_graphs=6), path, PARAMS)
    return path


def _tamper(path, key, change):
    blob = torch.load(path, weights_only=True)
    blob[key] = [change(t) for t in blob[key]]
    torch.save(blob, path)  # well-formed, its digest left as it was


def test_an_untouched_cache_is_read_back(cache):
    graphs = load_graphs(cache, PARAMS)
    assert [int(g.y) for g in graphs] == [int(g.y) for g in generate_ba_2motifs(num_graphs=6)]


@pytest.mark.parametrize("key,change", [
    ("y", lambda y: 1 - y),                               # flipped labels
    ("edge_label", torch.ones_like),                      # every edge ground truth
    ("x", lambda x: x + 1e-6),                            # a feature nudged
])
def test_a_tampered_cache_is_made_again(cache, caplog, key, change):
    _tamper(cache, key, change)
    assert load_graphs(cache, PARAMS) is None
    assert "does not match its digest" in caplog.text


def test_a_cache_of_other_parameters_or_without_digest_is_made_again(cache, caplog):
    assert load_graphs(cache, {**PARAMS, "num_graphs": 7}) is None
    assert "it was made with" in caplog.text
    blob = torch.load(cache, weights_only=True)
    del blob["cache"]
    torch.save(blob, cache)
    assert load_graphs(cache, PARAMS) is None
    assert "has no digest" in caplog.text


def test_load_dataset_rebuilds_a_tampered_cache(tmp_path):
    before = load_dataset("ba_2motifs", tmp_path, num_graphs=20)
    _tamper(tmp_path / "ba_2motifs" / "graphs_n20.pt", "y", lambda y: 1 - y)
    after = load_dataset("ba_2motifs", tmp_path, num_graphs=20)
    assert [int(g.y) for g in after.train] == [int(g.y) for g in before.train]
    assert load_graphs(tmp_path / "ba_2motifs" / "graphs_n20.pt") is not None  # rewritten


def test_the_digest_covers_the_words_of_sentence_graphs():
    from gsat.data.base import cache_digest

    blob = {"x": [torch.ones(2, 1)], "tokens": [["a", "good", "film"]]}
    edited = {"x": [torch.ones(2, 1)], "tokens": [["a", "bad", "film"]]}
    assert cache_digest(blob) != cache_digest(edited)
    assert cache_digest(blob) == cache_digest({"x": [torch.ones(2, 1)],
                                               "tokens": [["a", "good", "film"]]})
