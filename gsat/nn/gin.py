r"""GIN backbone as used by GSAT (Xu et al., ICLR 2019; Miao et al., ICML 2022)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn
from torch_geometric.nn import GINConv, GINEConv, global_add_pool

from gsat.utils import batch_vector


class GIN(nn.Module):
    r"""Graph Isomorphism Network for graph classification, built from PyG's
    :class:`~torch_geometric.nn.conv.GINConv` (or :class:`~torch_geometric.nn.conv.GINEConv`
    when edge features are used).

    Linear node encoder, :obj:`num_layers` convolutions whose update MLP is
    Linear-BatchNorm-ReLU-Linear, each followed by ReLU and dropout, sum pooling and a linear
    head. It exposes :meth:`get_emb` (node embeddings) and :meth:`get_pred_from_emb` (graph
    logits from embeddings), the two calls :class:`gsat.GSAT` needs.

    Args:
        in_channels (int): node feature width (ignored if :obj:`node_encoder` is given).
        out_channels (int): number of logits (1 for binary classification).
        hidden_channels (int, optional): embedding width. (default: :obj:`64`)
        num_layers (int, optional): number of convolutions. (default: :obj:`2`)
        dropout (float, optional): dropout after each layer. (default: :obj:`0.3`)
        edge_dim (int, optional): edge feature width; if set, GINEConv is used.
            (default: :obj:`None`)
        node_encoder (torch.nn.Module, optional): replaces the linear node encoder, e.g. an
            OGB ``AtomEncoder``. (default: :obj:`None`)
        edge_encoder (torch.nn.Module, optional): replaces the linear edge encoder.
            (default: :obj:`None`)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 num_layers: int = 2, dropout: float = 0.3, edge_dim: Optional[int] = None,
                 node_encoder: Optional[nn.Module] = None,
                 edge_encoder: Optional[nn.Module] = None):
        super().__init__()
        self.in_channels = in_channels if node_encoder is None else None
        self.hidden_channels = hidden_channels
        self.dropout = dropout
        self.use_edge_attr = edge_dim is not None or edge_encoder is not None
        self.node_encoder = node_encoder or nn.Linear(in_channels, hidden_channels)
        self.edge_encoder = None
        if self.use_edge_attr:
            self.edge_encoder = edge_encoder or nn.Linear(edge_dim, hidden_channels)
        self.convs = nn.ModuleList()
        for _ in range(num_layers):
            mlp = nn.Sequential(nn.Linear(hidden_channels, hidden_channels),
                                nn.BatchNorm1d(hidden_channels), nn.ReLU(),
                                nn.Linear(hidden_channels, hidden_channels))
            self.convs.append(GINEConv(mlp) if self.use_edge_attr else GINConv(mlp))
        self.head = nn.Linear(hidden_channels, out_channels)

    def get_emb(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        """Node embeddings of shape :obj:`[N, hidden_channels]`."""
        x = self.node_encoder(x)
        if self.use_edge_attr:
            if edge_attr is None:
                raise ValueError("this GIN was built with edge features (edge_dim set), but "
                                 "the graph has no edge_attr")
            edge_attr = self.edge_encoder(edge_attr)
        for conv in self.convs:
            x = conv(x, edge_index, edge_attr) if self.use_edge_attr else conv(x, edge_index)
            x = nn.functional.dropout(x.relu(), self.dropout, training=self.training)
        return x

    def get_pred_from_emb(self, emb: Tensor, batch: Tensor) -> Tensor:
        """Graph logits of shape :obj:`[B, out_channels]` from node embeddings."""
        return self.head(global_add_pool(emb, batch))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        return self.get_pred_from_emb(self.get_emb(x, edge_index, batch, edge_attr), batch)
