r"""``gsat explain``: :func:`explain_graphs` predicts and explains, with a run's selected
model (:func:`gsat.training.reader.load_run`), graphs it never saw and writes
``explanations.jsonl``, a picture per graph and a summary."""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch_geometric.data import Data

from gsat.errors import ConfigError, GraphInputError
from gsat.core.task import prediction_record  # noqa: F401 - a name of this module too
from gsat.io.files import atomic_write, json_safe, write_json
from gsat.training.reader import LoadedRun, load_run

log = logging.getLogger(__name__)

PathLike = Union[str, Path]

__all__ = ["explain_graphs", "explain_file", "read_smiles_csv", "stdout_summary"]


# ----------------------------------------------------------------------------- inputs
def read_smiles_csv(path: PathLike, smiles_col: str = "smiles", id_col: Optional[str] = None
                    ) -> List[Tuple[str, str]]:
    r""":obj:`(id, smiles)` pairs of a CSV file; the id is :obj:`id_col`'s value, or the
    1-based row number (header excluded) when :obj:`id_col` is :obj:`None` or absent.

    Raises:
        gsat.errors.DataMissingError: the file does not exist.
        gsat.errors.ConfigError: the SMILES column is missing or the file is not CSV text.
    """
    from gsat.data.molecules import read_csv_rows

    path = Path(path)
    table = read_csv_rows(path, [smiles_col], f"--input {path}", "choose with --smiles-col")
    use_id = id_col is not None and table and id_col in table[0]
    return [((row.get(id_col) or str(i)) if use_id else str(i),
             (row.get(smiles_col) or "").strip())
            for i, row in enumerate(table, start=1)]


def _prepare_input(g: Data, run: LoadedRun) -> Data:
    """A copy of a user's graph converted like the training graphs of ``pyg:`` datasets, and
    checked against the model."""
    from gsat.core.validation import check_graph

    if not isinstance(g, Data):
        raise GraphInputError(f"expected a torch_geometric.data.Data, got {type(g).__name__}")
    g = g.clone()
    atom = run.config.model.atom_encoder
    x = getattr(g, "x", None)
    if isinstance(x, torch.Tensor) and not atom and not x.is_floating_point():
        g.x = x.float()
    ea = getattr(g, "edge_attr", None)
    if isinstance(ea, torch.Tensor) and not atom:
        g.edge_attr = (ea.float() if not ea.is_floating_point() else ea)
        if g.edge_attr.dim() == 1:
            g.edge_attr = g.edge_attr.view(-1, 1)
    width = int(run.dataset["num_features"])
    uses_edge_attr = bool(run.config.model.use_edge_attr and run.dataset.get("edge_dim"))
    check_graph(g, in_channels=None if atom else width,
                edge_dim=run.dataset.get("edge_dim") if uses_edge_attr and not atom else None,
                needs_edge_attr=uses_edge_attr)
    if g.x.size(1) != width:
        raise GraphInputError(f"x has {g.x.size(1)} features per node, the model was trained "
                              f"with {width}")
    return g


# ----------------------------------------------------------------------------- explaining
def explain_graphs(run: LoadedRun, graphs: Sequence[Any], out_dir: PathLike,
                   ids: Optional[Sequence[str]] = None, mols: Optional[Sequence[Any]] = None,
                   pictures: bool = True, progress: bool = True,
                   skipped: Optional[List[Dict[str, str]]] = None,
                   source: str = "", max_pictures: Optional[int] = None) -> Dict[str, Any]:
    r"""Predict and explain :obj:`graphs` with a run's GSAT model and write into
    :obj:`out_dir`:

    * ``explanations.jsonl``: one JSON object per explained graph: :obj:`id`,
      :obj:`prediction`, :obj:`probability` (of the predicted class for binary and
      multi-class; per label for multi-label), :obj:`edges` (per edge :obj:`source`,
      :obj:`target`, :obj:`attention`; for molecules also :obj:`bond_index`, RDKit's bond
      number, and :obj:`atoms`, the symbols of both ends), for sentence graphs
      :obj:`tokens` (per word :obj:`token` and :obj:`attention`, the largest attention of
      its edges, :func:`gsat.viz.node_attention`) and :obj:`picture`;
    * ``graph_<id>.png`` for the first :obj:`max_pictures` explained graphs: RDKit depictions
      with bonds highlighted by attention for molecules, otherwise
      :func:`gsat.viz.draw_graph_explanation`: superpixels for image graphs (:obj:`sp_map`,
      e.g. MNIST-75sp), a strip of words coloured by the attention lifted to nodes for
      sentence graphs (:obj:`tokens`, e.g. Graph-SST2), nodes and edges for the rest;
    * ``summary.json`` and ``summary.md``: counts, predicted classes, the skipped graphs with
      their reasons, and per graph the edges of highest attention.

    A graph that fails validation (:func:`gsat.core.validation.check_graph`) is reported by id in
    one log line and skipped; the others are explained.

    Args:
        run (LoadedRun): from :func:`load_run`; a GSAT run (ERM runs have no attention).
        graphs (list of Data): the graphs (:obj:`None` entries are skipped as unreadable).
        out_dir (str or Path): output folder (created).
        ids (list of str, optional): an id per graph. (default: positions)
        mols (list of rdkit.Chem.Mol, optional): the molecule of each graph (atoms numbered
            as its nodes) for chemical pictures and bond annotations. (default: :obj:`None`)
        pictures (bool, optional): draw PNGs. (default: :obj:`True`)
        max_pictures (int, optional): draw at most this many (the first explained graphs);
            drawing takes about ten times as long as explaining. (default: :obj:`None`, one
            per graph)
        progress (bool, optional): show a progress bar. (default: :obj:`True`)
        skipped (list of dict, optional): graphs already rejected while reading
            (:obj:`{"id", "reason"}`), reported in the summary.
        source (str, optional): the input's name for the summary.

    Returns:
        dict: the content of ``summary.json``.
    """
    from tqdm.auto import tqdm

    from gsat.core.model import GSAT

    if not isinstance(run.model, GSAT):
        raise ConfigError(f"{run.run_dir} was trained with --method erm: that model has no "
                          "attention to explain; use a GSAT run")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = [str(i) for i in (ids if ids is not None else range(len(graphs)))]
    skipped = list(skipped or [])
    for s in skipped:
        log.warning("graph %s skipped: %s", s["id"], s["reason"])
    device = next(run.model.parameters()).device
    task = str(run.dataset["task"])
    records: List[Dict[str, Any]] = []
    drawn = 0
    run.model.eval()
    with open(out / "explanations.jsonl", "w") as f:
        for k, (gid, g) in enumerate(tqdm(list(zip(ids, graphs)), desc="explaining",
                                          disable=not progress)):
            try:
                if g is None:
                    raise GraphInputError("unreadable input")
                g = _prepare_input(g, run)
                with torch.no_grad():
                    o = run.model(g.to(device))
            except GraphInputError as exc:
                reason = " ".join(str(exc).split())
                log.warning("graph %s skipped: %s", gid, reason)
                skipped.append({"id": gid, "reason": reason})
                continue
            att = o.edge_att.detach().cpu().view(-1)
            mol = mols[k] if mols is not None else None
            rec = _record(gid, o.logits, task, g, att, mol)
            if pictures and (max_pictures is None or drawn < max_pictures):
                rec["picture"] = _draw(run, g, att, mol, out, gid, rec).name
                drawn += 1
            f.write(json.dumps(json_safe(rec)) + "\n")
            records.append(rec)
    summary = _summary(run, records, skipped, source, out)
    summary["pictures"] = drawn
    write_json(summary, out / "summary.json")
    atomic_write(out / "summary.md", _summary_md(summary, records))
    return summary


def _record(gid: str, logits: torch.Tensor, task: str, g: Data, att: torch.Tensor,
            mol: Any) -> Dict[str, Any]:
    """The line of ``explanations.jsonl`` of one graph (without its picture)."""
    ei = g.edge_index.cpu()
    rec: Dict[str, Any] = {"id": gid, **prediction_record(logits, task)}
    edges = []
    for e in range(ei.size(1)):
        u, v = int(ei[0, e]), int(ei[1, e])
        item: Dict[str, Any] = {"source": u, "target": v, "attention": float(att[e])}
        if mol is not None:
            bond = mol.GetBondBetweenAtoms(u, v)
            item["bond_index"] = None if bond is None else bond.GetIdx()
            item["atoms"] = [mol.GetAtomWithIdx(u).GetSymbol(), mol.GetAtomWithIdx(v).GetSymbol()]
        edges.append(item)
    if mol is not None:
        from rdkit import Chem

        rec["smiles"] = Chem.MolToSmiles(mol)
    rec["edges"] = edges
    tokens = getattr(g, "tokens", None)
    if isinstance(tokens, (list, tuple)) and len(tokens) == g.num_nodes:
        from gsat.viz import node_attention

        node_att = node_attention(att, ei, g.num_nodes)
        rec["tokens"] = [{"token": str(t), "attention": float(a)}
                         for t, a in zip(tokens, node_att)]
    return rec


def _safe_id(gid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", gid)[:60] or "graph"


def _draw(run: LoadedRun, g: Data, att: torch.Tensor, mol: Any, out: Path, gid: str,
          rec: Dict[str, Any]) -> Path:
    from gsat.viz import draw_graph_explanation, draw_molecule_explanation

    p = rec["probability"]
    if p is None:  # regression
        v = rec["prediction"]
        title = f"{gid}: predicted " + (f"{v:.3g}" if isinstance(v, float)
                                         else ", ".join(f"{x:.3g}" for x in v))
    else:
        shown = f"{p:.2f}" if isinstance(p, float) else ", ".join(f"{v:.2f}" for v in p)
        title = f"{gid}: prediction {rec['prediction']} (probability {shown})"
    path = out / f"graph_{_safe_id(gid)}.png"
    if mol is not None:
        bond_att: Dict[int, float] = {}
        for item in rec["edges"]:
            if item.get("bond_index") is not None:
                b = item["bond_index"]
                bond_att[b] = max(bond_att.get(b, 0.0), item["attention"])
        return draw_molecule_explanation(mol, bond_att, path, title=title)
    names = run.dataset.get("node_names")
    node_type = getattr(g, "node_type", None)
    labels = None
    if names and isinstance(node_type, torch.Tensor) and node_type.numel() == g.num_nodes:
        labels = [names[int(t)] if 0 <= int(t) < len(names) else str(int(t))
                  for t in node_type.view(-1)]
    return draw_graph_explanation(g.cpu(), att, path, node_names=labels, title=title)


def _summary(run: LoadedRun, records: List[Dict[str, Any]], skipped: List[Dict[str, str]],
             source: str, out: Path) -> Dict[str, Any]:
    preds = Counter(json.dumps(r["prediction"]) for r in records)
    atts = torch.tensor([e["attention"] for r in records for e in r["edges"]],
                        dtype=torch.float64)
    quant = ({f"q{int(q * 100)}": float(torch.quantile(atts, q)) for q in (0.1, 0.5, 0.9)}
             if atts.numel() else {})
    return {"run": str(run.run_dir), "seed": run.seed, "epoch": run.epoch,
            "dataset": run.dataset.get("name"), "task": run.dataset.get("task"),
            "input": source, "graphs": len(records) + len(skipped), "explained": len(records),
            "skipped": skipped,
            "predicted_classes": {k: v for k, v in sorted(preds.items())},
            "attention": {"edges": int(atts.numel()), **quant},
            "files": {"explanations": "explanations.jsonl", "folder": str(out)}}


def _summary_md(summary: Dict[str, Any], records: List[Dict[str, Any]], top: int = 3) -> str:
    lines = [f"# Explanations by {summary['run']} (seed {summary['seed']}, epoch "
             f"{summary['epoch']})", "",
             f"Input {summary['input']}: {summary['graphs']} graphs, {summary['explained']} "
             f"explained, {len(summary['skipped'])} skipped.", "",
             f"| id | prediction | probability | top {top} edges (attention) |", "|---|---|---|---|"]
    for r in records:
        best: Dict[Tuple[int, int], Dict[str, Any]] = {}
        for e in r["edges"]:  # one entry per undirected pair
            key = (min(e["source"], e["target"]), max(e["source"], e["target"]))
            if key not in best or e["attention"] > best[key]["attention"]:
                best[key] = e
        ranked = sorted(best.values(), key=lambda e: -e["attention"])[:top]
        text = ", ".join((f"{'-'.join(e['atoms'])} bond {e['bond_index']}" if "atoms" in e
                          else f"{e['source']}-{e['target']}") + f" ({e['attention']:.2f})"
                         for e in ranked)
        p = r["probability"]
        shown = ("-" if p is None else f"{p:.3f}" if isinstance(p, float)
                 else ", ".join(f"{v:.2f}" for v in p))
        lines.append(f"| {r['id']} | {r['prediction']} | {shown} | {text} |")
    if summary["skipped"]:
        lines += ["", "Skipped:", ""] + [f"- {s['id']}: {s['reason']}"
                                         for s in summary["skipped"]]
    return "\n".join(lines) + "\n"


def explain_file(run_dir: PathLike, input_path: PathLike, out_dir: Optional[PathLike] = None,
                 seed: Optional[int] = None, smiles_col: str = "smiles",
                 id_col: Optional[str] = "id", device: str = "cpu", pictures: bool = True,
                 progress: bool = True, max_pictures: Optional[int] = None) -> Dict[str, Any]:
    r"""``gsat explain``: load the run (:func:`load_run`), read :obj:`input_path` (a CSV of
    SMILES for runs on molecules, else a :func:`torch.save` file or InMemoryDataset folder of
    PyG graphs, read safely by :func:`gsat.data.files.read_graph_file`) and
    :func:`explain_graphs` into :obj:`out_dir` (default ``<run_dir>/explain-<input stem>``).

    Raises:
        gsat.errors.ConfigError: a SMILES file for a run that was not trained on molecules
            featurised as OGB's, or an ERM run.
    """
    from gsat.data.files import read_graph_file
    from gsat.data.molecules import smiles_to_graph

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} was asked for but CUDA is not available; use "
                          "--device cpu")
    run = load_run(run_dir, seed=seed, device=device)
    src = Path(input_path)
    out = Path(out_dir) if out_dir is not None else run.run_dir / f"explain-{src.stem}"
    if src.suffix.lower() in (".csv", ".smi", ".txt"):
        if not run.is_molecular:
            raise ConfigError(
                f"--input {src}: SMILES need a run trained on molecules featurised as the OGB "
                f"datasets (--dataset csv:... or ogbg_*); {run.run_dir} was trained on "
                f"{run.dataset.get('name')} with {run.dataset.get('num_features')} node "
                "features. Give a file of PyG Data objects instead (torch.save(graphs, path))")
        from rdkit import Chem

        rows = read_smiles_csv(src, smiles_col, id_col)
        graphs, ids, mols, skipped = [], [], [], []
        for gid, smi in rows:
            g = smiles_to_graph(smi)
            if g is None:
                skipped.append({"id": gid, "reason": f"RDKit cannot parse SMILES {smi[:60]!r}"})
                continue
            graphs.append(g)
            ids.append(gid)
            mols.append(Chem.MolFromSmiles(smi))
        return explain_graphs(run, graphs, out, ids=ids, mols=mols, pictures=pictures,
                              progress=progress, skipped=skipped, source=str(src),
                              max_pictures=max_pictures)
    graphs = read_graph_file(src)
    ids = [str(getattr(g, "id", i)) if isinstance(g, Data) and isinstance(
        getattr(g, "id", None), (str, int)) else str(i) for i, g in enumerate(graphs)]
    return explain_graphs(run, graphs, out, ids=ids, pictures=pictures, progress=progress,
                          source=str(src), max_pictures=max_pictures)


def stdout_summary(summary: Dict[str, Any], top: int = 5) -> str:
    r"""The few lines ``gsat explain`` prints: counts, predicted classes, where the table,
    the explanations and the pictures are (the per-graph table is in ``summary.md``)."""
    folder = Path(summary["files"]["folder"])
    classes = ", ".join(f"{k}: {v}" for k, v in summary["predicted_classes"].items())
    lines = [f"{summary['explained']} of {summary['graphs']} graphs explained "
             f"({len(summary['skipped'])} skipped) by {summary['run']} (seed {summary['seed']})",
             f"predicted classes (graphs): {classes or 'none'}"]
    for s in summary["skipped"][:top]:
        lines.append(f"skipped {s['id']}: {s['reason']}")
    if len(summary["skipped"]) > top:
        lines.append(f"... {len(summary['skipped']) - top} more skipped graphs in summary.md")
    drawn = int(summary.get("pictures", 0))
    lines += [f"table of every graph: {folder / 'summary.md'}",
              f"explanations: {folder / 'explanations.jsonl'}, summary: "
              f"{folder / 'summary.json'}"]
    if drawn:
        more = summary["explained"] - drawn
        lines.append(f"pictures: {drawn} in {folder}/graph_*.png"
                     + (f" (the first {drawn}; {more} not drawn: raise --max-pictures)"
                        if more > 0 else ""))
    return "\n".join(lines)
