r"""PNA backbone as used by GSAT (Corso et al., NeurIPS 2020; Miao et al., ICML 2022).

The layer is the one of the released GSAT code (Graph-COM/GSAT, ``src/models/conv_layers.py``,
``PNAConvSimple``): no towers and no pre-transform. The message of edge :math:`(j, i)` is the
raw concatenation :math:`[\mathbf{x}_i, \mathbf{x}_j (, \mathbf{e}_{ji})]`; the messages are
aggregated with the configured PNA aggregators and degree scalers and mapped to the hidden
width by a single linear layer. Because the message is what :class:`MessagePassing` returns
from :meth:`~torch_geometric.nn.conv.MessagePassing.message`, PyG's edge-mask hook
(:func:`torch_geometric.explain.algorithm.utils.set_masks`, used by :class:`gsat.GSAT`) gates
exactly the concatenation, as the paper's :obj:`edge_atten` does.
"""
from __future__ import annotations

import warnings
from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import BatchNorm, global_mean_pool
from torch_geometric.nn.aggr import DegreeScalerAggregation
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.utils import degree

from gsat.nn.utils import batch_vector, dropout
from gsat.nn.readout import pooling


def degree_histogram(graphs: Iterable) -> Tensor:
    r"""In-degree histogram over a collection of graphs, the :obj:`deg` argument of
    :class:`SimplePNAConv` (and of PyG's :class:`~torch_geometric.nn.conv.PNAConv`).

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


class SimplePNAConv(MessagePassing):
    r"""The PNA convolution of the released GSAT code (``PNAConvSimple``), built from PyG parts:

    .. math::
        \mathbf{x}_i' = \mathbf{W} \left( \bigoplus_{j \in \mathcal{N}(i)}
        [\mathbf{x}_i \,\Vert\, \mathbf{x}_j \,(\Vert\, \mathbf{e}_{ji})] \right) + \mathbf{b},
        \qquad
        \bigoplus = \underbrace{\begin{bmatrix} I \\ S(D, \alpha=1) \\ S(D, \alpha=-1)
        \end{bmatrix}}_{\text{scalers}} \otimes
        \underbrace{\begin{bmatrix} \mu \\ \sigma \\ \max \\ \min \\ \Sigma
        \end{bmatrix}}_{\text{aggregators}}

    The aggregation is PyG's :class:`~torch_geometric.nn.aggr.DegreeScalerAggregation`, which
    concatenates aggregators and then scalers in the given order, as the released layer does.
    (The released layer's :math:`\sigma` adds :math:`10^{-5}` under the square root and its
    scalers normalise by the plain mean of the histogram; PyG's clamps the variance at
    :math:`10^{-5}` and uses the degree-weighted mean. All of GSAT's released configurations
    switch scalers off.)

    Args:
        in_channels (int): node feature width :math:`F`.
        out_channels (int): output width.
        aggregators (list of str): PyG aggregation names, e.g.
            :obj:`["mean", "min", "max", "std", "sum"]`.
        scalers (list of str): degree scalers, e.g. :obj:`["identity"]` or
            :obj:`["identity", "amplification", "attenuation"]`.
        deg (torch.Tensor): in-degree histogram of the training graphs
            (:func:`degree_histogram`).
        edge_dim (int, optional): width of the edge features concatenated to the message;
            :obj:`None` for messages :math:`[\mathbf{x}_i, \mathbf{x}_j]`. (default: :obj:`None`)

    Shapes:
        **input:** node features :math:`(N, F)`, :obj:`edge_index` :math:`(2, E)`, edge
        features :math:`(E, \text{edge\_dim})` (optional); **output:** :math:`(N,
        \text{out\_channels})`.
    """

    def __init__(self, in_channels: int, out_channels: int, aggregators: Sequence[str],
                 scalers: Sequence[str], deg: Tensor, edge_dim: Optional[int] = None):
        if not aggregators:
            raise ValueError("SimplePNAConv needs at least one aggregator, e.g. ['mean']")
        if not scalers:
            raise ValueError("SimplePNAConv needs at least one scaler, e.g. ['identity']")
        aggr = DegreeScalerAggregation(list(aggregators), list(scalers), deg)
        super().__init__(aggr=aggr, node_dim=0)
        self.in_channels, self.out_channels, self.edge_dim = in_channels, out_channels, edge_dim
        msg_width = 2 * in_channels + (edge_dim or 0)
        #: width of one message, :math:`2F (+ D)`; read by explainers that gate messages
        self.message_channels = msg_width
        self.lin = nn.Linear(len(aggregators) * len(scalers) * msg_width, out_channels)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None
                ) -> Tensor:
        if (edge_attr is None) != (self.edge_dim is None):
            raise ValueError(
                "SimplePNAConv was built with edge_dim=None but received edge_attr"
                if edge_attr is not None else
                f"SimplePNAConv was built with edge_dim={self.edge_dim} but received no "
                f"edge_attr")
        return self.lin(self.propagate(edge_index, x=x, edge_attr=edge_attr))

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Optional[Tensor]) -> Tensor:
        if edge_attr is None:
            return torch.cat([x_i, x_j], dim=-1)
        return torch.cat([x_i, x_j, edge_attr], dim=-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"edge_dim={self.edge_dim})")


class PNA(nn.Module):
    r"""Principal Neighbourhood Aggregation network for graph classification, the model of the
    released GSAT code (``src/models/pna.py``) built from :class:`SimplePNAConv`.

    Linear node encoder (and linear edge encoder, both to the hidden width, when edge
    features are used), :obj:`num_layers` blocks :math:`\mathbf{x} \leftarrow
    \mathrm{dropout}(\mathbf{x} + \mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(\mathbf{x}))))`,
    mean pooling and a 3-layer MLP head (:math:`h \to h/2 \to h/4 \to` out).

    Args:
        in_channels (int): node feature width (ignored if :obj:`node_encoder` is given).
        out_channels (int): number of logits (1 for binary classification).
        deg (torch.Tensor): in-degree histogram of the training graphs
            (see :func:`degree_histogram`).
        hidden_channels (int, optional): embedding width. (default: :obj:`80`)
        num_layers (int, optional): number of convolutions. (default: :obj:`4`)
        dropout (float, optional): dropout after each block. (default: :obj:`0.3`)
        aggregators (list of str, optional): PNA aggregators, as in the released
            BA-2Motifs, Mutag, Spurious-Motif, MNIST-75sp and Graph-SST2 configs (the OGB
            molecule configs leave out :obj:`"sum"`).
            (default: :obj:`["mean", "min", "max", "std", "sum"]`)
        scalers (list of str, optional): PNA degree scalers; :obj:`["identity"]` switches
            scaling off. (default: :obj:`["identity"]`)
        edge_dim (int, optional): edge feature width. (default: :obj:`None`)
        node_encoder (torch.nn.Module, optional): replaces the linear node encoder.
        edge_encoder (torch.nn.Module, optional): replaces the linear edge encoder.
        towers (int, optional): deprecated and ignored (the layer has no towers); giving it
            emits a :class:`DeprecationWarning`. (default: :obj:`None`)
        readout (str, optional): :obj:`"pool"` (mean pooling), :obj:`"center"`, the
            embedding of node 0 of each graph (:func:`gsat.nn.readout.center_pool`), or
            :obj:`"node"`, one prediction per node. (default: :obj:`"pool"`)
    """

    def __init__(self, in_channels: int, out_channels: int, deg: Tensor,
                 hidden_channels: int = 80, num_layers: int = 4, dropout: float = 0.3,
                 aggregators: Sequence[str] = ("mean", "min", "max", "std", "sum"),
                 scalers: Sequence[str] = ("identity",),
                 edge_dim: Optional[int] = None, node_encoder: Optional[nn.Module] = None,
                 edge_encoder: Optional[nn.Module] = None, towers: Optional[int] = None,
                 readout: str = "pool"):
        super().__init__()
        self.readout, self._pool = readout, pooling(readout, global_mean_pool)
        if towers is not None:
            warnings.warn("PNA(towers=...) is deprecated and ignored: the PNA layer of GSAT "
                          "has no towers", DeprecationWarning, stacklevel=2)
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
            SimplePNAConv(h, h, aggregators=list(aggregators), scalers=list(scalers), deg=deg,
                          edge_dim=h if self.use_edge_attr else None)
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
            x = dropout(x + h, self.dropout, self.training)
        return x

    def get_pred_from_emb(self, emb: Tensor, batch: Tensor) -> Tensor:
        """Graph logits of shape :obj:`[B, out_channels]` from node embeddings."""
        return self.head(self._pool(emb, batch))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        return self.get_pred_from_emb(self.get_emb(x, edge_index, batch, edge_attr), batch)
