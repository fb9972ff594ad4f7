"""Backbones (GIN, PNA, any PyG GNN split into embedding + head) and the GSAT extractor."""
from gsat.nn.extractor import Extractor
from gsat.nn.gin import GIN
from gsat.nn.pna import PNA, SimplePNAConv, degree_histogram
from gsat.nn.readout import center_pool
from gsat.nn.wrap import GraphClassifier

__all__ = ["Extractor", "GIN", "PNA", "GraphClassifier", "SimplePNAConv", "center_pool",
           "degree_histogram"]
