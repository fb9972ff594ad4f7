r"""``gsat explain RUN --node V``: explain nodes of the graph a node-classification run was
trained on: the prediction, the true label, and the attention on every edge of the node's
computation subgraph, as ``node_<V>.json`` and ``node_<V>.png``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import torch

from gsat.errors import ConfigError
from gsat.io.files import write_json
from gsat.runs.layout import RunFolder
from gsat.training.reader import LoadedRun, load_run

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

__all__ = ["explain_nodes", "node_dataset_of"]


def node_dataset_of(run: LoadedRun) -> Any:
    r"""The node dataset a node-classification run was trained on, rebuilt from its
    ``run.json``.

    Raises:
        gsat.errors.ConfigError: the run was trained on a graph classification task.
    """
    if (run.dataset.get("extra") or {}).get("level") != "node":
        raise ConfigError(f"--node: the run in {run.run_dir} was trained on graphs "
                          f"({run.dataset.get('name')}), not on the nodes of one graph; "
                          "explain its graphs with --input FILE")
    from gsat.data import load_dataset
    from gsat.runs.records import read_run_json

    fields = read_run_json(RunFolder(run.run_dir), what="run folder")
    return load_dataset(fields["dataset"], fields.get("data_dir", "data"), seed=run.seed,
                        **fields.get("dataset_options", {}))


def _one(run: LoadedRun, ds: Any, node: int, out: Path, pictures: bool) -> Dict[str, Any]:
    from gsat.app.inference import prediction_record
    from gsat.data.node.base import SPLITS
    from gsat.explain.nodes import explained_nodes, node_fidelity, node_graph

    m = run.config.model
    # one graph for the prediction and the explanation: the node's computation subgraph
    # (node 0) or the whole graph
    g = node_graph(ds, node, m.readout, m.n_layers).to(next(run.model.parameters()).device)
    exp = next(explained_nodes(run.model, [g]))
    with torch.no_grad():
        logits = run.model(g).logits[0 if m.readout == "center" else node]
    whole = ds.data.edge_index[:, exp.edge_ids]
    truth = exp.edge_label
    rec: Dict[str, Any] = {
        "node": node, "dataset": ds.name, "label": int(ds.data.y[node]),
        "split": next((s for s, mask in SPLITS.items() if bool(getattr(ds.data, mask)[node])),
                      None),
        **prediction_record(logits, str(run.dataset["task"])),
        "num_hops": m.n_layers, "design": "subgraphs" if m.readout == "center" else "whole",
        "edges": [{"edge_id": int(e), "source": int(u), "target": int(v),
                   "attention": float(a),
                   **({} if truth is None or int(t) < 0 else {"ground_truth": int(t)})}
                  for e, u, v, a, t in zip(exp.edge_ids.tolist(), whole[0].tolist(),
                                           whole[1].tolist(), exp.edge_att.tolist(),
                                           (truth if truth is not None
                                            else torch.zeros_like(exp.edge_ids)).tolist())]}
    rec["fidelity"] = node_fidelity(run.model, g, exp, 0 if m.readout == "center" else node)
    if pictures:
        from gsat.viz import draw_explanation, prediction_title

        label = None if truth is None else truth.clamp(min=0)
        names = ds.extra.get("class_names")
        rec["picture"] = draw_explanation(
            exp.edge_index, exp.edge_att, int(exp.node_ids.numel()), out / f"node_{node}.png",
            edge_label=label, target=0,
            title=prediction_title(rec["prediction"], rec["probability"],
                                   str(run.dataset["task"]),
                                   names if isinstance(names, list) else None, rec["label"],
                                   f"{ds.name} node {node}")).name
    write_json(rec, out / f"node_{node}.json")
    return rec


def explain_nodes(run_dir: PathLike, nodes: Sequence[int], out_dir: Optional[PathLike] = None,
                  seed: Optional[int] = None, device: str = "cpu",
                  pictures: bool = True) -> List[Dict[str, Any]]:
    r"""Explain :obj:`nodes` of the graph of a node-classification run and write
    ``node_<V>.json`` (prediction, probability, true label, split, and per edge of the node's
    computation subgraph its id, ends, attention and ground truth where known) and
    ``node_<V>.png`` (the subgraph, the node marked) into :obj:`out_dir` (default
    ``<run_dir>/explain-nodes``); each record also holds the explanation's fidelity without
    ground truth (:func:`gsat.explain.nodes.node_fidelity`: the top 20 % of the subgraph's
    edges kept, or removed), and ``fidelity.json`` the mean fid+ / fid- over the nodes and
    PyG's characterization score of them. Returns the records.

    Raises:
        gsat.errors.ConfigError: a graph-classification run, or a node outside the graph.
    """
    run = load_run(run_dir, seed=seed, device=device)
    ds = node_dataset_of(run)
    for v in nodes:
        if not 0 <= int(v) < ds.num_nodes:
            raise ConfigError(f"--node {v}: the graph of {ds.name} has {ds.num_nodes} nodes "
                              f"(0 to {ds.num_nodes - 1})")
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "explain-nodes"
    out.mkdir(parents=True, exist_ok=True)
    records = [_one(run, ds, int(v), out, pictures) for v in nodes]
    write_json(fidelity_summary([r["fidelity"] for r in records]), out / "fidelity.json")
    return records


def fidelity_summary(parts: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Mean fid+ and fid- of node explanations (:func:`gsat.explain.nodes.node_fidelity`)
    and PyG's characterization score of the two (equal weights; None where it is
    undefined: fid+ of 0 or fid- of 1)."""
    from gsat.explain.fidelity import characterization

    plus = sum(p["fid_plus"] for p in parts) / len(parts)
    minus = sum(p["fid_minus"] for p in parts) / len(parts)
    score = characterization(plus, minus) if plus > 0 and minus < 1 else None
    return {"nodes": len(parts), "fid_plus": plus, "fid_minus": minus,
            "characterization_score": score, "kept_share": 0.2}
