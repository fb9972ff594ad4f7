"""Scoring of explanations, post-hoc baselines and GSAT behind one edge-score interface."""
from gsat.explain.baselines import (EXPLAINERS, BackboneAdapter, EdgeExplainer, GSATAlgorithm,
                                    GSATExplainer, explainer_names, make_explainer,
                                    preserved_state)
from gsat.explain.metrics import interp_auc, precision_at_k

__all__ = ["interp_auc", "precision_at_k", "EXPLAINERS", "BackboneAdapter", "EdgeExplainer",
           "GSATAlgorithm", "GSATExplainer", "explainer_names", "make_explainer",
           "preserved_state"]
