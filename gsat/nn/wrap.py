r"""Turn any PyG node-embedding GNN into a backbone that :class:`gsat.GSAT` can wrap."""
from __future__ import annotations

from typing import Callable, Optional

from torch import Tensor, nn
from torch_geometric.nn import global_add_pool

from gsat.nn.utils import batch_vector


class GraphClassifier(nn.Module):
    r"""A graph classifier split into the two parts GSAT needs: a GNN that returns node
    embeddings (any PyG model such as :class:`torch_geometric.nn.models.GCN` or
    :class:`~torch_geometric.nn.models.GIN`) and a head applied after pooling.

    Every :class:`~torch_geometric.nn.conv.MessagePassing` layer inside :obj:`gnn` is gated by
    GSAT's attention through PyG's edge-mask mechanism; nothing in :obj:`gnn` needs changing.
    It provides what :class:`gsat.GSAT` asks of a backbone: :obj:`hidden_channels`,
    :meth:`get_emb` (node embeddings) and :meth:`get_pred_from_emb` (pool, then head).

    .. code-block:: python

        from torch_geometric.nn import GCN, global_mean_pool

        backbone = gsat.GraphClassifier(GCN(in_channels=10, hidden_channels=64, num_layers=3),
                                        head=torch.nn.Linear(64, 1), pool=global_mean_pool)
        model = gsat.GSAT(backbone, task="binary")

    Args:
        gnn (torch.nn.Module): called as :obj:`gnn(x, edge_index)` (plus
            :obj:`edge_attr=...` when :obj:`gnn.supports_edge_attr` is true and the graph has
            edge features); returns node embeddings :math:`(N, h)`.
        head (torch.nn.Module): maps pooled embeddings :math:`(B, h)` to logits.
        pool (callable, optional): pooling :obj:`pool(emb, batch)`.
            (default: :func:`~torch_geometric.nn.pool.global_add_pool`)
        hidden_channels (int, optional): :math:`h`; read from :obj:`gnn.out_channels` if not
            given.
    """

    def __init__(self, gnn: nn.Module, head: nn.Module,
                 pool: Callable[[Tensor, Tensor], Tensor] = global_add_pool,
                 hidden_channels: Optional[int] = None):
        super().__init__()
        self.gnn, self.head, self.pool = gnn, head, pool
        self.hidden_channels = hidden_channels or getattr(gnn, "out_channels", None)
        if self.hidden_channels is None:
            raise ValueError("hidden_channels could not be read from gnn.out_channels; "
                             "pass hidden_channels=... explicitly")
        self.in_channels = getattr(gnn, "in_channels", None)

    def get_emb(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        if edge_attr is not None and getattr(self.gnn, "supports_edge_attr", False):
            return self.gnn(x, edge_index, edge_attr=edge_attr)
        return self.gnn(x, edge_index)

    def get_pred_from_emb(self, emb: Tensor, batch: Tensor) -> Tensor:
        return self.head(self.pool(emb, batch))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        batch = batch_vector(batch, x.size(0), edge_index)
        return self.get_pred_from_emb(self.get_emb(x, edge_index, batch, edge_attr), batch)
