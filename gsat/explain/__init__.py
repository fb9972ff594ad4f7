"""Scoring of explanations (and, as they land, post-hoc baselines with the same interface)."""
from gsat.explain.metrics import interp_auc, precision_at_k

__all__ = ["interp_auc", "precision_at_k"]
