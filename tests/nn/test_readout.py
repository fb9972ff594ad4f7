"""The centre readout: the first node of every graph of a batch."""
import pytest
import torch
from torch_geometric.data import Batch, Data

from gsat.nn import GIN, PNA, center_pool, degree_histogram


def test_center_pool_takes_the_first_node_of_each_graph():
    emb = torch.arange(12.0).view(6, 2)
    batch = torch.tensor([0, 0, 0, 1, 2, 2])
    assert torch.equal(center_pool(emb, batch), emb[[0, 3, 4]])
    assert center_pool(emb[:0], batch[:0]).shape == (0, 2)


@pytest.mark.parametrize("backbone", ["GIN", "PNA"])
def test_backbones_read_the_centre_when_asked(backbone):
    torch.manual_seed(0)
    graphs = [Data(x=torch.randn(n, 3), edge_index=torch.tensor([[0, 1], [1, 0]]))
              for n in (3, 4)]
    batch = Batch.from_data_list(graphs)
    kw = dict(in_channels=3, out_channels=2, hidden_channels=8, num_layers=2)
    if backbone == "PNA":
        kw["deg"] = degree_histogram(graphs)
    model = (GIN if backbone == "GIN" else PNA)(**kw, readout="center").eval()
    emb = model.get_emb(batch.x, batch.edge_index, batch.batch)
    out = model.get_pred_from_emb(emb, batch.batch)
    assert torch.allclose(out, model.head(emb[[0, 3]]))
    with pytest.raises(ValueError, match="unknown readout"):
        GIN(3, 1, readout="middle")
