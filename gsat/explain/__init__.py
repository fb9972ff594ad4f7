"""Scoring of explanations, post-hoc baselines and GSAT behind one edge-score interface."""
from gsat.explain.baselines import (EXPLAINERS, BackboneAdapter, EdgeExplainer, GSATAlgorithm,
                                    GSATExplainer, explainer_names, make_explainer,
                                    explained_copy)
from gsat.explain.metrics import interp_auc, precision_at_k
from gsat.explain.pyg import GSATModelAdapter, gsat_explainer, to_explanation

__all__ = ["interp_auc", "precision_at_k", "EXPLAINERS", "BackboneAdapter", "EdgeExplainer",
           "GSATAlgorithm", "GSATExplainer", "explainer_names", "make_explainer",
           "explained_copy", "GSATModelAdapter", "gsat_explainer", "to_explanation"]
