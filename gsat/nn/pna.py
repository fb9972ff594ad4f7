r"""PNA backbone as used by GSAT (Corso et al., NeurIPS 2020; Miao et al., ICML 2022)."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import BatchNorm, PNAConv, global_mean_pool
from torch_geometric.utils import degree

from gsat.utils import batch_vector


def degree_histogram(graphs: Iterable) -> Tensor:
    r"""In-degree histogram over a collection of graphs, the :obj:`deg` argument of
    :class:`~torch_geometric.nn.conv.PNAConv`.

    Args:
        graphs (iterable of torch_geometric.data.Data): usually the training set.
    """
    counts = torch.zeros(1, dtype=torch.long)
    for data in graphs:
        d = degree(data.edge_index[1], num_nodes=data.num_nodes, dtype=torch.long)
        bc = torch.bincount(d)
        if bc.numel() > counts.numel():
            counts = torch.cat([counts, counts.new_zeros(bc.numel() - counts.numel())])
        counts[: bc.numel()] += bc
    return counts


class PNA(nn.Module):
    r"""Principal Neighbourhood Aggregation network for graph classification, built from PyG's
    :class:`~torch_geometric.nn.conv.PNAConv`.

    Linear node encoder, :obj:`num_layers` blocks of PNAConv - BatchNorm - ReLU with a
    residual connection and dropout, mean pooling and a 3-layer MLP head
    (:math:`h \to h/2 \to h/4 \to` out).

    Args:
        in_channels (int): node feature width (ignored if :obj:`node_encoder` is given).
        out_channels (int): number of logits (1 for binary classification).
        deg (torch.Tensor): in-degree histogram of the training graphs
            (see :func:`degree_histogram`).
        hidden_channels (int, optional): embedding width. (default: :obj:`80`)
        num_layers (int, optional): number of convolutions. (default: :obj:`4`)
        dropout (float, optional): dropout after each block. (default: :obj:`0.3`)
        aggregators (list of str, optional): PNA aggregators.
            (default: :obj:`["mean", "min", "max", "std"]`)
        scalers (list of str, optional): PNA degree scalers; :obj:`["identity"]` switches
            scaling off. (default: :obj:`["identity"]`)
        towers (int, optional): towers of PNAConv; must divide :obj:`hidden_channels`.
            (default: :obj:`5`)
        edge_dim (int, optional): edge feature width. (default: :obj:`None`)
        node_encoder (torch.nn.Module, optional): replaces the linear node encoder.
        edge_encoder (torch.nn.Module, optional): replaces the linear edge encoder.
    """

    def __init__(self, in_channels: int, out_channels: int, deg: Tensor,
                 hidden_channels: int = 80, num_layers: int = 4, dropout: float = 0.3,
                 aggregators: Sequence[str] = ("mean", "min", "max", "std"),
                 scalers: Sequence[str] = ("identity",), towers: int = 5,
                 edge_dim: Optional[int] = None, node_encoder: Optional[nn.Module] = None,
                 edge_encoder: Optional[nn.Module] = None):
        super().__init__()
        if hidden_channels % towers != 0:
            raise ValueError(f"hidden_channels ({hidden_channels}) must be divisible by "
                             f"towers ({towers})")
        self.in_channels = in_channels if node_encoder is None else None
        self.hidden_channels = hidden_channels
        self.dropout = dropout
        self.use_edge_attr = edge_dim is not None or edge_encoder is not None
        h = hidden_channels
        self.node_encoder = node_encoder or nn.Linear(in_channels, h)
        self.edge_encoder = None
        if self.use_edge_attr:
            self.edge_encoder = edge_encoder or nn.Linear(edge_dim, h)
        self.convs = nn.ModuleList(
            PNAConv(h, h, aggregators=list(aggregators), scalers=list(scalers), deg=deg,
                    edge_dim=h if self.use_edge_attr else None, towers=towers,
                    pre_layers=1, post_layers=1, divide_input=False)
            for _ in range(num_layers))
        self.norms = nn.ModuleList(BatchNorm(h) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(h, h // 2), nn.ReLU(), nn.Linear(h // 2, h // 4),
                                  nn.ReLU(), nn.Linear(h // 4, out_channels))

    def get_emb(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        """Node embeddings of shape :obj:`[N, hidden_channels]`."""
        x = self.node_encoder(x)
        if self.use_edge_attr:
            if edge_attr is None:
                raise ValueError("this PNA was built with edge features (edge_dim set), but "
                                 "the graph has no edge_attr")
            edge_attr = self.edge_encoder(edge_attr)
        else:
            edge_attr = None  # built without edge features: ignore those of the graph
        for conv, norm in zip(self.convs, self.norms):
            h = norm(conv(x, edge_index, edge_attr)).relu()
            x = nn.functional.dropout(x + h, self.dropout, training=self.training)
        return x

    def get_pred_from_emb(self, emb: Tensor, batch: Tensor) -> Tensor:
        """Graph logits of shape :obj:`[B, out_channels]` from node embeddings."""
        return self.head(global_mean_pool(emb, batch))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        return self.get_pred_from_emb(self.get_emb(x, edge_index, batch, edge_attr), batch)
