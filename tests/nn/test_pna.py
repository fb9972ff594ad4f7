import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from gsat.core.config import load_config
from gsat.data.base import GraphDataset
from gsat.core.model import edge_mask
from gsat.nn import PNA, SimplePNAConv, degree_histogram
from gsat.training.build import build_backbone

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _paper_pna_params(x_dim: int, edge_dim: int, num_out: int, h: int = 80, layers: int = 4,
                      n_aggr: int = 5) -> int:
    """Parameters of the released PNA (Graph-COM/GSAT src/models/pna.py, conv_layers.py
    PNAConvSimple), counted from its layer sizes:

    * node encoder Linear(x_dim, h): x_dim*h + h
    * edge encoder Linear(edge_dim, h) if the data has edge features: edge_dim*h + h
    * per layer: PNAConvSimple(in_channels = 2h, or 3h with edge features), whose only
      weights are post_nn = Linear(n_aggr * n_scalers * in_channels, h) (scalers off: 1),
      plus BatchNorm(h): 2h
    * head Linear(h, h/2) - ReLU - Linear(h/2, h/4) - ReLU - Linear(h/4, num_out)
    """
    msg = (3 if edge_dim else 2) * h
    enc = x_dim * h + h + ((edge_dim * h + h) if edge_dim else 0)
    conv = (n_aggr * msg) * h + h + 2 * h
    head = (h * (h // 2) + h // 2) + ((h // 2) * (h // 4) + h // 4) + ((h // 4) * num_out + num_out)
    return enc + layers * conv + head


def test_paper_counts_by_hand():
    # BA-2Motifs: x 10-d, no edge features, one logit:
    # 880 + 4 * (800*80 + 80 + 160) + (3240 + 820 + 21) = 261,921
    assert _paper_pna_params(10, 0, 1) == 261_921
    # Mutag: x 14-d (one-hot atoms), no edge features: 1,200 + 256,960 + 4,081 = 262,241
    assert _paper_pna_params(14, 0, 1) == 262_241


def _tiny_ds(num_features: int, edge_dim=None) -> GraphDataset:
    g = Data(x=torch.rand(4, num_features),
             edge_index=to_undirected(torch.tensor([[0, 1, 2], [1, 2, 3]])), y=torch.tensor([0]))
    if edge_dim:
        g.edge_attr = torch.ones(g.edge_index.size(1), edge_dim)
    return GraphDataset(name="t", train=[g], valid=[g], test=[g], num_features=num_features,
                        num_outputs=1, task="binary", metric="acc", edge_dim=edge_dim)


@pytest.mark.parametrize("config,x_dim", [("PNA-ba_2motifs.yml", 10), ("PNA-mutag.yml", 14)])
def test_backbone_size_matches_the_paper(config, x_dim):
    cfg = load_config(ROOT / "gsat" / "configs" / config)
    model = build_backbone(cfg, _tiny_ds(x_dim))
    ours = sum(p.numel() for p in model.parameters())
    paper = _paper_pna_params(x_dim, 0, 1)
    assert abs(ours - paper) <= 0.05 * paper, (ours, paper)
    assert ours == paper  # same layers, so the count is in fact identical


def test_spmotif_backbone_uses_edge_features_in_the_message():
    cfg = load_config(ROOT / "gsat" / "configs" / "PNA-spmotif.yml")
    ds = _tiny_ds(4, edge_dim=1)
    ds.num_outputs = 3
    model = build_backbone(cfg, ds)
    assert model.convs[0].lin.in_features == 5 * 3 * 80
    assert sum(p.numel() for p in model.parameters()) == _paper_pna_params(4, 1, 3)


def _graph():
    torch.manual_seed(0)
    ei = torch.tensor([[0, 1, 1, 2, 3, 4, 2, 0], [1, 0, 2, 1, 4, 3, 4, 3]])
    return Data(x=torch.randn(5, 6), edge_index=ei, edge_attr=torch.randn(ei.size(1), 3))


@pytest.mark.parametrize("edge_dim", [None, 3])
def test_message_is_the_raw_concatenation(edge_dim):
    g = _graph()
    deg = degree_histogram([g])
    conv = SimplePNAConv(6, 7, ["sum"], ["identity"], deg, edge_dim=edge_dim)
    ea = g.edge_attr if edge_dim else None
    out = conv(g.x, g.edge_index, ea)
    src, dst = g.edge_index
    parts = [g.x[dst], g.x[src]] + ([g.edge_attr] if edge_dim else [])
    msg = torch.cat(parts, -1)
    expect = torch.zeros(5, msg.size(1)).index_add_(0, dst, msg)
    assert torch.allclose(out, conv.lin(expect), atol=1e-5)


@pytest.mark.parametrize("edge_dim", [None, 3])
def test_edge_mask_gates_the_concatenated_message(edge_dim):
    g = _graph()
    deg = degree_histogram([g])
    conv = SimplePNAConv(6, 7, ["mean", "min", "max", "std", "sum"], ["identity"], deg,
                         edge_dim=edge_dim)
    ea = g.edge_attr if edge_dim else None
    drop = torch.tensor([2, 5])  # edges (1, 2) and (4, 3)
    keep = torch.ones(g.edge_index.size(1), dtype=torch.bool)
    keep[drop] = False
    mask = keep.float()
    with edge_mask(conv, mask, g.edge_index):
        gated = conv(g.x, g.edge_index, ea)
    deleted = conv(g.x, g.edge_index[:, keep], ea[keep] if edge_dim else None)
    # sum, mean... of masked messages differ from deletion only through the count of
    # zero messages; with only "sum" they coincide: check sum exactly, then a weight scales
    sum_conv = SimplePNAConv(6, 7, ["sum"], ["identity"], deg, edge_dim=edge_dim)
    with edge_mask(sum_conv, mask, g.edge_index):
        s_gated = sum_conv(g.x, g.edge_index, ea)
    s_deleted = sum_conv(g.x, g.edge_index[:, keep], ea[keep] if edge_dim else None)
    assert torch.allclose(s_gated, s_deleted, atol=1e-5)
    # nodes none of whose incoming edges are masked get the same output under every
    # aggregator; node 2 and node 3 (targets of the dropped edges) do not
    untouched = torch.tensor([0, 1, 4])
    assert torch.allclose(gated[untouched], deleted[untouched], atol=1e-5)
    assert not torch.allclose(gated[torch.tensor([2, 3])], deleted[torch.tensor([2, 3])])
    # a weight w multiplies the whole concatenation [x_i, x_j (, e)] of that edge
    w = torch.full((g.edge_index.size(1),), 0.5)
    with edge_mask(sum_conv, w, g.edge_index):
        half = sum_conv(g.x, g.edge_index, ea)
    full = sum_conv(g.x, g.edge_index, ea)
    b = sum_conv.lin.bias
    assert torch.allclose(half - b, 0.5 * (full - b), atol=1e-5)


def test_towers_are_deprecated():
    with pytest.warns(DeprecationWarning, match="towers"):
        PNA(3, 1, torch.tensor([1, 2]), hidden_channels=8, num_layers=1, towers=5)


def test_old_config_with_towers_still_loads(tmp_path, caplog):
    text = (ROOT / "gsat" / "configs" / "PNA-ba_2motifs.yml").read_text()
    old = tmp_path / "old.yml"
    old.write_text(text.replace("  scalers: false\n", "  scalers: false\n  towers: 5\n"))
    with caplog.at_level("WARNING"):
        cfg = load_config(old)
    assert cfg.model.towers == 5 and "towers is deprecated" in caplog.text
    model = build_backbone(cfg, _tiny_ds(10))
    assert sum(p.numel() for p in model.parameters()) == _paper_pna_params(10, 0, 1)


def test_pna_fits_a_small_batch():
    graphs = []
    for i in range(6):
        g = _graph()
        g.x = torch.randn(5, 6, generator=torch.Generator().manual_seed(i))
        g.y = torch.tensor([i % 2])
        graphs.append(g)
    batch = Batch.from_data_list(graphs)
    torch.manual_seed(0)
    model = PNA(6, 1, degree_histogram(graphs), hidden_channels=16, num_layers=2, edge_dim=3,
                dropout=0.0, aggregators=["mean", "min", "max", "std", "sum"],
                scalers=["identity", "amplification", "attenuation"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    y = batch.y.float().view(-1, 1)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(batch.x, batch.edge_index, batch.batch, batch.edge_attr), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
