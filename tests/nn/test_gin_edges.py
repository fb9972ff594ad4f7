"""GIN with edge features: one encoded edge vector shared by the layers, or a linear layer
per GINEConv as in the released GIN (model.per_layer_edge_lin)."""
import torch
from torch_geometric.data import Data

from gsat import GIN, GSAT
from gsat.core.config import config_from_dict
from gsat.data.base import GraphDataset
from gsat.training.build import build_backbone


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_of_the_released_spurious_motif_gin():
    # Spurious-Motif: 4 node features, 1 edge feature, 3 classes, width 64, 2 layers.
    # Released GIN (Graph-COM/GSAT src/models/gin.py: GINEConv(MLP, edge_dim=hidden_size)
    # in every layer): node encoder 4*64+64, edge encoder 1*64+64, per layer the MLP
    # 2*(64*64+64) + batch norm 2*64 and GINEConv's Linear(64, 64), head 64*3+3.
    released = (4 * 64 + 64) + (64 + 64) + 2 * (2 * (64 * 64 + 64) + 128 + 64 * 64 + 64) \
        + (64 * 3 + 3)
    assert released == 25_859
    assert _count(GIN(4, 3, 64, 2, edge_dim=1, per_layer_edge_lin=True)) == 25_859
    assert _count(GIN(4, 3, 64, 2, edge_dim=1)) == 17_539  # shared: 8,320 fewer


def test_per_layer_edge_lin_is_used_gated_and_from_the_config():
    torch.manual_seed(0)
    g = Data(x=torch.randn(5, 4), edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]),
             edge_attr=torch.randn(4, 1), y=torch.tensor([1]))
    gin = GIN(4, 3, 8, 2, edge_dim=1, per_layer_edge_lin=True)
    lins = [conv.lin for conv in gin.convs]
    assert all(l_.weight.shape == (8, 8) for l_ in lins) and lins[0] is not lins[1]
    model = GSAT(gin, task="multiclass").eval()
    out = model(g)
    # the output depends on each layer's own edge map
    with torch.no_grad():
        lins[1].weight.add_(1.0)
    assert not torch.allclose(out.logits, model(g).logits)
    ds = GraphDataset(name="t", train=[g], valid=[], test=[], num_features=4, num_outputs=3,
                      task="multiclass", metric="acc", edge_dim=1)
    cfg = config_from_dict({"model": {"per_layer_edge_lin": True}})
    assert _count(build_backbone(cfg, ds)) == _count(GIN(4, 3, 64, 2, edge_dim=1,
                                                        per_layer_edge_lin=True))
    assert build_backbone(config_from_dict({}), ds).convs[0].lin is None
