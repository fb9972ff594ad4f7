"""What a benchmark runs and the keys of its reusable pieces (gsat.benchmark.spec)."""
from gsat.benchmark import BenchmarkSpec


def test_records_of_graphmask_scored_the_old_way_are_not_reused():
    from gsat.benchmark.spec import piece_key
    spec = BenchmarkSpec(dataset="ba_2motifs", explainers=["graphmask", "gnnexplainer"])
    assert piece_key(spec, "graphmask", False, {})["score_version"] == 3
    assert "score_version" not in piece_key(spec, "gnnexplainer", False, {})
