r"""GIN backbone as used by GSAT (Xu et al., ICLR 2019; Miao et al., ICML 2022)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn
from torch_geometric.nn import GINConv, GINEConv, global_add_pool

from gsat.nn.gated import gated_add
from gsat.nn.readout import pooling
from gsat.nn.utils import batch_vector, dropout

_HOOKS = ("_propagate_forward_pre_hooks", "_propagate_forward_hooks",
          "_message_forward_pre_hooks", "_message_forward_hooks",
          "_aggregate_forward_pre_hooks", "_aggregate_forward_hooks")


class GatedGINConv(GINConv):
    r""":class:`~torch_geometric.nn.conv.GINConv` whose edge-masked pass (PyG's explain hook,
    as set by :func:`gsat.core.model.edge_mask` or :mod:`torch_geometric.explain`) sums the gated
    messages with :func:`gsat.nn.gated.gated_add`, which does not keep the :math:`E \times C`
    gated messages for the backward pass. Same parameters, outputs and gradients as
    :class:`GINConv` up to floating point. Anything the fast path does not cover (a custom
    :meth:`explain_message`, propagate/message/aggregate hooks, a self-loop mask, a
    bipartite or sparse input, another aggregation or flow) takes PyG's own path."""

    def _fast_gate(self, x, edge_index: Tensor, size) -> bool:
        mask = getattr(self, "_edge_mask", None)
        return (self.explain is True and mask is not None and size is None
                and isinstance(x, Tensor) and type(edge_index) is Tensor
                and "explain_message" not in self.__dict__
                and type(self).explain_message is GINConv.explain_message
                and self.aggr == "add" and self.flow == "source_to_target"
                and mask.dim() == 1 and mask.numel() == edge_index.size(1)
                and not any(getattr(self, h, None) for h in _HOOKS))

    def forward(self, x, edge_index, size=None) -> Tensor:
        if not self._fast_gate(x, edge_index, size):
            return super().forward(x, edge_index, size)
        mask = self._edge_mask.sigmoid() if self._apply_sigmoid else self._edge_mask
        out = gated_add(x, edge_index, mask, x.size(0))
        return self.nn(out + (1 + self.eps) * x)


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
        readout (str, optional): :obj:`"pool"` (sum pooling), :obj:`"center"`, the
            embedding of node 0 of each graph (the centre of a node's computation subgraph,
            :func:`gsat.nn.readout.center_pool`), or :obj:`"node"`, one prediction per node.
            (default: :obj:`"pool"`)
        per_layer_edge_lin (bool, optional): with edge features, every
            :class:`~torch_geometric.nn.conv.GINEConv` maps the encoded edge features
            through its own :math:`h \times h` linear layer (:obj:`GINEConv(...,
            edge_dim=h)`), as the released GIN does (Graph-COM/GSAT
            ``src/models/gin.py``); :obj:`False` adds the one encoded edge vector in every
            layer. (default: :obj:`False`)
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 num_layers: int = 2, dropout: float = 0.3, edge_dim: Optional[int] = None,
                 node_encoder: Optional[nn.Module] = None,
                 edge_encoder: Optional[nn.Module] = None, readout: str = "pool",
                 per_layer_edge_lin: bool = False):
        super().__init__()
        self.readout, self._pool = readout, pooling(readout, global_add_pool)
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
            if not self.use_edge_attr:
                self.convs.append(GatedGINConv(mlp))
            else:
                self.convs.append(GINEConv(mlp, edge_dim=hidden_channels if per_layer_edge_lin
                                           else None))
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
            x = dropout(x.relu(), self.dropout, self.training)
        return x

    def get_pred_from_emb(self, emb: Tensor, batch: Tensor) -> Tensor:
        """Graph logits of shape :obj:`[B, out_channels]` from node embeddings."""
        return self.head(self._pool(emb, batch))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        return self.get_pred_from_emb(self.get_emb(x, edge_index, batch, edge_attr), batch)
