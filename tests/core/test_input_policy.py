"""Input policy of gsat.core.validation: integer index dtypes and floating feature dtypes are
converted once on entry; malformed batches and overflowing features are refused with one
clear GraphInputError (never a phantom graph, a crash deep in PyG, or NaN attention)."""
import pytest
import torch
from torch_geometric.data import Batch, Data

from gsat import GIN, GSAT, functional
from gsat.errors import GraphInputError
from gsat.core.model import ERM
from gsat.core.validation import check_graph, model_inputs

FEAT = 3


def _gsat(seed=0):
    torch.manual_seed(seed)
    return GSAT(GIN(FEAT, 1, hidden_channels=8), symmetrize=True).eval()


def _two_graphs():
    g = Data(x=torch.randn(4, FEAT, generator=torch.Generator().manual_seed(1)),
             edge_index=torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]))
    return Batch.from_data_list([g, g])


def test_symmetrize_pair_key_does_not_overflow_int32():
    n = 100_000
    # (50000, 60000) and its reverse, and an unrelated edge whose int32 key would collide
    ei = torch.tensor([[50000, 60000, 1], [60000, 50000, 2]])
    att = torch.tensor([0.2, 0.6, 0.9])
    want = torch.tensor([0.4, 0.4, 0.9])
    for dtype in (torch.long, torch.int32):
        out = functional.symmetrize_edge_att(att, ei.to(dtype), n)
        assert torch.allclose(out, want), (dtype, out)
    # the colliding pair: in int32, 50000 * 100000 + 60000 wraps around; find an edge (u, v)
    # whose true int64 key equals the wrapped value and check it is not averaged with it
    wrapped = torch.tensor(50000 * n + 60000, dtype=torch.long).to(torch.int32).long().item()
    u, v = divmod(wrapped % (n * n), n)
    if u <= v < n and (u, v) != (50000, 60000):
        ei2 = torch.tensor([[50000, u], [60000, v]], dtype=torch.int32)
        out = functional.symmetrize_edge_att(torch.tensor([0.1, 0.7]), ei2, n)
        assert torch.allclose(out, torch.tensor([0.1, 0.7]))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_integer_edge_index_dtypes_give_the_same_result_as_long(dtype):
    model, batch = _gsat(), _two_graphs()
    ref = model(batch)
    other = batch.clone()
    other.edge_index = batch.edge_index.to(dtype)
    other.batch = batch.batch.to(dtype)
    out = model(other)
    assert torch.equal(out.logits, ref.logits) and torch.equal(out.edge_att, ref.edge_att)
    assert other.edge_index.dtype == dtype  # the caller's data is not modified


def test_int32_edge_index_in_a_large_sparse_graph_symmetrizes_correctly():
    n = 100_000
    x = torch.zeros(n, FEAT)
    x[50000], x[60000] = 1.0, -1.0
    ei = torch.tensor([[50000, 60000], [60000, 50000]], dtype=torch.int32)
    model = _gsat()
    att = model.explain(Data(x=x, edge_index=ei))
    assert att.shape == (2,) and att[0] == att[1]
    ref = model.explain(Data(x=x, edge_index=ei.long()))
    assert torch.equal(att, ref)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_feature_dtypes_are_converted_to_the_model_dtype(dtype):
    model, batch = _gsat(), _two_graphs()
    ref = model(batch).logits
    other = batch.clone()
    other.x = batch.x.to(dtype)
    out = model(other).logits
    assert out.dtype == torch.float32
    tol = 1e-6 if dtype == torch.float64 else 5e-2
    assert torch.allclose(out, model(Batch.from_data_list(
        [Data(x=g.x.to(dtype).float(), edge_index=g.edge_index) for g in batch.to_data_list()]
    )).logits, atol=1e-6)
    assert torch.allclose(out, ref, atol=tol, rtol=tol)


def test_float64_features_beyond_float32_are_refused():
    g = _two_graphs()
    g.x = g.x.double()
    g.x[0, 0] = 1e300
    with pytest.raises(GraphInputError, match=r"float64\) do not fit this model's "
                                              r"torch.float32: values up to 1e\+300"):
        _gsat()(g)


@pytest.mark.parametrize("model", [_gsat(), ERM(GIN(FEAT, 1, hidden_channels=8)).eval()],
                         ids=["GSAT", "ERM"])
def test_huge_finite_features_give_a_clear_error_not_nan(model):
    g = _two_graphs()
    g.x = g.x * 0 + 3e38
    with pytest.raises(GraphInputError, match=r"NaN or infinite on finite input: node "
                                              r"features as large as \|x\| = 3e\+38"):
        model(g)


def test_diverged_weights_are_not_reported_as_an_input_error():
    model, g = _gsat(), _two_graphs()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    out = model(g)  # the training loop reports the non-finite loss
    assert not bool(torch.isfinite(out.logits).all())


@pytest.mark.parametrize("batch,match", [
    ([0, 0, 5, 5, 5, 5, 5, 5], r"without gaps, but graph\(s\) 1, 2, 3, 4 have no nodes"),
    ([1, 1, 1, 1, 2, 2, 2, 2], r"without gaps, but graph\(s\) 0 have no nodes"),
    ([0, 0, 1, 1, 0, 0, 1, 1], r"batch must be sorted .* node 4 belongs to graph 0"),
])
def test_malformed_batch_vectors_are_refused(batch, match):
    g = _two_graphs()
    g.batch = torch.tensor(batch)
    for call in (_gsat(), _gsat().explain):
        with pytest.raises(GraphInputError, match=match):
            call(g)


def test_edge_joining_two_graphs_of_a_batch_is_refused():
    g = _two_graphs()
    g.edge_index = torch.cat([g.edge_index, torch.tensor([[3], [4]])], 1)
    with pytest.raises(GraphInputError, match=r"edge 12 \(3 -> 4\) joins graph 0 and graph 1"):
        _gsat()(g)


def test_declared_num_nodes_must_match_x():
    g = Data(x=torch.randn(3, FEAT), edge_index=torch.tensor([[0], [1]]), num_nodes=5)
    with pytest.raises(GraphInputError, match="declares num_nodes=5, but x has 3 rows"):
        check_graph(g)


@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.complex64])
def test_non_integer_edge_index_is_refused(dtype):
    g = Data(x=torch.randn(3, FEAT), edge_index=torch.tensor([[0], [1]]).to(dtype))
    with pytest.raises(GraphInputError, match=f"integer tensor .* got {dtype}"):
        check_graph(g)


def test_model_inputs_converts_once_and_leaves_data_alone():
    g = Data(x=torch.randn(3, FEAT, dtype=torch.float64),
             edge_index=torch.tensor([[0], [1]], dtype=torch.int32))
    x, ei, batch, ea = model_inputs(g, torch.float32, FEAT)
    assert (x.dtype, ei.dtype, batch.dtype, ea) == (torch.float32, torch.long, torch.long, None)
    assert torch.equal(batch, torch.zeros(3, dtype=torch.long))
    assert g.x.dtype == torch.float64 and g.edge_index.dtype == torch.int32
