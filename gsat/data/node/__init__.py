r"""Node classification datasets: one graph whose nodes are classified, split by node masks.

* :mod:`gsat.data.node.base` -- :class:`~gsat.data.node.base.NodeDataset`, the checks every
  node dataset passes on construction, and the node splits.
* :mod:`gsat.data.node.motifs` -- BA-Shapes, BA-Community, Tree-Cycles and Tree-Grid
  (Ying et al., NeurIPS 2019), generated with ground-truth motif edges.
* :mod:`gsat.data.node.infection` -- Infection (Faber, Moghaddam & Wattenhofer, KDD 2021), whose
  ground truth is each node's unique shortest path to an infected node.
* :mod:`gsat.data.node.real` -- Planetoid (Cora, CiteSeer, PubMed) and Twitch, read from
  their published files (downloaded when missing), without ground truth.
* :mod:`gsat.data.node.files` -- a user's own graph saved with PyG (``pyg:PATH``) holding one
  graph with a label per node.

The explanation of a node :math:`v` is the attention on the edges of its :math:`L`-hop
computation subgraph; :meth:`NodeDataset.ground_truth` gives the edges that explain it.
"""
