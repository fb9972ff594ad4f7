"""Post-hoc explainers and GSAT behind one edge-score interface (scores of explanations live in
:mod:`gsat.metrics.interpretation`)."""
from gsat.explain.base import BackboneAdapter, EdgeExplainer, ExplainerEntry, explained_copy
from gsat.explain.gsat import GSATAlgorithm, GSATExplainer
from gsat.explain.registry import (EXPLAINERS, explainer_names, make_explainer,
                                   register_explainer)
from gsat.explain.pyg import GSATModelAdapter, gsat_explainer, to_explanation
from gsat.explain.sensitivity import edge_removal_effect, mask_level_response

__all__ = ["EXPLAINERS", "BackboneAdapter", "EdgeExplainer", "ExplainerEntry", "GSATAlgorithm",
           "GSATExplainer", "explainer_names", "make_explainer", "register_explainer",
           "explained_copy", "GSATModelAdapter", "gsat_explainer", "to_explanation",
           "mask_level_response", "edge_removal_effect"]
