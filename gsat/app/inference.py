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
from gsat.core.task import prediction_record
from gsat.io.files import atomic_write, json_safe, write_json
from gsat.training.reader import LoadedRun, load_run
from gsat.viz.scale import class_name, prediction_title

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


def read_csv_labels(path: PathLike, label_cols: Any, task: str) -> Optional[List[Any]]:
    r"""The true labels of the rows of a CSV of SMILES when it has every label column the run
    was trained on (:obj:`label_cols`, from its ``dataset.json``), else :obj:`None`: per row
    the class (binary, one column), the values (regression) or 0/1 per label (multi-label),
    :obj:`None` for a row whose label is empty or not a number."""
    from gsat.data.molecules import read_csv_rows

    if not isinstance(label_cols, list) or not label_cols:
        return None
    path = Path(path)
    table = read_csv_rows(path, [], f"--input {path}", "")
    if not table or any(c not in table[0] for c in label_cols):
        return None
    out: List[Any] = []
    for row in table:
        try:
            values = [float(row[c]) for c in label_cols]
        except (TypeError, ValueError):
            values = [float("nan")]
        if task in ("binary", "multiclass", "regression") and any(v != v for v in values):
            out.append(None)
            continue
        if task in ("binary", "multiclass"):
            out.append(int(values[0]))
        elif task == "regression" and len(values) == 1:
            out.append(values[0])
        else:
            out.append(values)
    return out


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
                   source: str = "", max_pictures: Optional[int] = None,
                   fidelity: bool = True, labels: Optional[Sequence[Any]] = None,
                   scale: str = "relative", top_k: Optional[int] = None, html: bool = False,
                   substructures: Optional[bool] = None) -> Dict[str, Any]:
    r"""Predict and explain :obj:`graphs` with a run's GSAT model and write into
    :obj:`out_dir`:

    * ``explanations.jsonl``: one JSON object per explained graph: :obj:`id`,
      :obj:`prediction`, :obj:`probability` (of the positive class for binary, of the
      predicted class for multi-class; per label for multi-label), :obj:`label` (the true
      label, when known), :obj:`edges` (per edge :obj:`source`,
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
      their reasons, and per graph the edges of highest attention;
    * with :obj:`fidelity` (binary and multi-class runs), how faithful the attention is,
      without ground truth or labels (:func:`gsat.explain.fidelity.graph_fidelity`, the
      predicted class): ``fidelity.json`` (means over the graphs of fid+, fid-, PyG's
      characterization score, unfaithfulness, the areas under the deletion and insertion
      curves and which direction is better, the mean curves, and the same per graph by id)
      and ``fidelity_curves.csv`` (per graph and share of its top edges the probability of
      the predicted class with them removed, ``deletion``, or only them kept,
      ``insertion``; the means as graph ``mean``). A regression or multi-label run has no
      predicted class to follow: the files are not written and ``summary.json`` says why.
    * with :obj:`html`, ``explanations.html``: one self-contained page
      (:func:`gsat.viz.html.explanation_page`) with a sortable table of the graphs (id,
      SMILES or size, prediction, probability, true label when known) and the pictures
      (SVG for molecules), with the colour legend;
    * for molecules (unless :obj:`substructures` is :obj:`False`), ``substructures.csv``,
      ``substructures.md`` and ``substructures.png`` / ``.svg``: the substructures that carry
      the attention across the predicted actives (:mod:`gsat.viz.substructures`).

    Pictures are titled by :func:`gsat.viz.scale.prediction_title` (``P(active) = 0.01``,
    class names from the run's dataset, the true label when known) and coloured on
    :obj:`scale` (per graph by default).

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
        fidelity (bool, optional): write ``fidelity.json`` and ``fidelity_curves.csv``.
            (default: :obj:`True`)
        labels (list, optional): the true label of each graph when known (:obj:`None`
            entries: unknown); a graph's own :obj:`y` is used otherwise.
        scale (str, optional): colour scale of the pictures, :obj:`"relative"`,
            :obj:`"rank"` or :obj:`"absolute"` (:mod:`gsat.viz.scale`).
            (default: :obj:`"relative"`)
        top_k (int, optional): colour only the :obj:`top_k` edges of highest attention.
        html (bool, optional): also write ``explanations.html``. (default: :obj:`False`)
        substructures (bool, optional): the substructure summary of molecules.
            (default: :obj:`None`, written whenever :obj:`mols` are given)

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
    explained: List[Tuple[Data, torch.Tensor]] = []
    page: List[Dict[str, Any]] = []
    explained_mols: List[Tuple[Any, Dict[int, float], Dict[str, Any]]] = []
    class_names = _class_names(run)
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
            label = _true_label(labels[k] if labels is not None else None, g, run)
            if label is not None:
                rec["label"] = label
            title = prediction_title(rec["prediction"], rec["probability"], task,
                                     class_names, label, gid)
            bond_att = _bond_attention(rec) if mol is not None else None
            picture: Any = None
            if pictures and (max_pictures is None or drawn < max_pictures):
                path = _draw(run, g, att, mol, bond_att, out, gid, title, scale, top_k)
                rec["picture"] = path.name
                drawn += 1
                if html:
                    picture = (_molecule_svg(mol, bond_att, title, scale, top_k)
                               if mol is not None else path.read_bytes())
            if html:
                page.append(_page_row(rec, g, task, class_names, label, picture))
            if mol is not None:
                explained_mols.append((mol, bond_att, rec))
            f.write(json.dumps(json_safe(rec)) + "\n")
            records.append(rec)
            if fidelity:
                explained.append((g.cpu(), att))
    summary = _summary(run, records, skipped, source, out)
    summary["pictures"] = drawn
    if fidelity:
        summary["fidelity"] = _write_fidelity(run, explained, [r["id"] for r in records],
                                              out, progress)
    if html:
        from gsat.viz.html import explanation_page

        page_path = explanation_page(
            page, out / "explanations.html", scale=scale,  # type: ignore[arg-type]
            title=f"Explanations of {source or 'graphs'}", molecules=mols is not None,
            ground_truth=any(getattr(g, "edge_label", None) is not None for g in graphs
                             if isinstance(g, Data)),
            intro=f"{len(records)} graphs explained by {run.run_dir} (seed {run.seed}, epoch "
                  f"{run.epoch}); {drawn} pictures. Click a column header to sort.")
        summary["files"]["html"] = page_path.name
    if explained_mols and substructures is not False:
        from gsat.viz.substructures import write_substructure_summary

        written = write_substructure_summary(
            [(m, b, _is_active(r, task)) for m, b, r in explained_mols], out,
            ids=[r["id"] for _, _, r in explained_mols],
            positive=class_name(1, class_names) if task == "binary" else "predicted class")
        summary["files"]["substructures"] = [p.name for p in written]
    write_json(summary, out / "summary.json")
    atomic_write(out / "summary.md", _summary_md(summary, records))
    return summary


def _write_fidelity(run: LoadedRun, explained: List[Tuple[Data, torch.Tensor]],
                    ids: List[str], out: Path, progress: bool) -> Dict[str, Any]:
    """``fidelity.json`` and ``fidelity_curves.csv`` of the explained graphs; returns the
    means (or why there are none) for ``summary.json``."""
    import csv
    import io

    from gsat.explain.fidelity import graph_fidelity

    task = str(run.dataset["task"])
    if task not in ("binary", "multiclass"):
        reason = (f"not computed: a {task} model has no predicted class whose probability "
                  "the edges could be removed from")
        log.info("fidelity %s", reason)
        return {"skipped": reason}
    if not explained:
        return {"skipped": "not computed: no graph was explained"}
    device = next(run.model.parameters()).device
    res = graph_fidelity(run.model, [g for g, _ in explained], [a for _, a in explained], task,
                         device=device, progress=progress)
    summary = res.summary()
    write_json({**summary, "model": "gsat", "scores": "attention",
                "per_graph": [{"id": gid, **rec} for gid, rec in zip(ids, res.per_graph())]},
               out / "fidelity.json")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["graph", "share", "deletion", "insertion"])
    w.writerows(res.curve_rows(ids))
    atomic_write(out / "fidelity_curves.csv", buf.getvalue())
    keys = ("fid_plus", "fid_minus", "characterization_score", "unfaithfulness",
            "deletion_auc", "insertion_auc", "kept_share", "higher_is_better")
    return {**{k: summary[k] for k in keys}, "file": "fidelity.json",
            "curves": "fidelity_curves.csv"}
def _class_names(run: LoadedRun) -> Optional[List[str]]:
    names = (run.dataset.get("extra") or {}).get("class_names")
    return [str(n) for n in names] if isinstance(names, list) else None


def _true_label(given: Any, g: Data, run: LoadedRun) -> Any:
    """The true label of a graph to show: the one given with the input, else the graph's
    own :obj:`y` when it has one value per output (NaN: unknown)."""
    if given is not None:
        return given
    y = getattr(g, "y", None)
    if not isinstance(y, torch.Tensor) or y.numel() == 0:
        return None
    task = str(run.dataset["task"])
    values = y.detach().cpu().double().view(-1)
    outputs = int(run.dataset.get("num_outputs", 1))
    if task in ("binary", "multiclass") and values.numel() == 1 and not torch.isnan(values[0]):
        return int(values[0])
    if task in ("multilabel", "regression") and values.numel() == outputs:
        out = [None if torch.isnan(v) else float(v) for v in values]
        return out[0] if task == "regression" and len(out) == 1 else out
    return None


def _is_active(rec: Dict[str, Any], task: str) -> bool:
    """Whether a molecule counts as a predicted active for the substructure summary: the
    positive class of a binary task, any positive label of a multi-label one, every molecule
    otherwise."""
    if task == "binary":
        return int(rec["prediction"]) == 1
    if task == "multilabel":
        return any(int(v) for v in rec["prediction"])
    return True


def _bond_attention(rec: Dict[str, Any]) -> Dict[int, float]:
    bond_att: Dict[int, float] = {}
    for item in rec["edges"]:
        if item.get("bond_index") is not None:
            b = item["bond_index"]
            bond_att[b] = max(bond_att.get(b, 0.0), item["attention"])
    return bond_att


def _molecule_svg(mol: Any, bond_att: Dict[int, float], title: str, scale: str,
                  top_k: Optional[int]) -> str:
    from gsat.viz.molecules import molecule_picture

    return str(molecule_picture(mol, bond_att, fmt="svg", title=title,
                                scale=scale, top_k=top_k))  # type: ignore[arg-type]


def _page_row(rec: Dict[str, Any], g: Data, task: str, class_names: Optional[List[str]],
              label: Any, picture: Any) -> Dict[str, Any]:
    """A row of ``explanations.html``."""
    p = rec["probability"]
    pred = rec["prediction"]
    if task == "binary":  # sorted by the probability of the positive class
        text, value, shown_p = class_name(int(pred), class_names), float(p), float(p)
    elif task == "multiclass":
        text, value, shown_p = class_name(int(pred), class_names), int(pred), p
    elif task == "multilabel":
        on = [class_name(i, class_names) for i, v in enumerate(pred) if int(v)]
        text, value, shown_p = ", ".join(on) or "none", sum(int(v) for v in pred), max(p)
    else:
        values = pred if isinstance(pred, list) else [pred]
        text, value, shown_p = ", ".join(f"{v:.3g}" for v in values), values[0], None
    shown_label = None
    if label is not None:
        if task in ("binary", "multiclass"):
            shown_label = class_name(int(label), class_names)
        else:
            values = label if isinstance(label, list) else [label]
            shown_label = ", ".join("-" if v is None else f"{v:.3g}" for v in values)
    size = f"{int(g.num_nodes)} nodes, {int(g.edge_index.size(1))} edges"
    return {"id": rec["id"], "input": rec.get("smiles", size), "prediction": text,
            "prediction_value": value, "probability": shown_p, "label": shown_label,
            "picture": picture}


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


def _draw(run: LoadedRun, g: Data, att: torch.Tensor, mol: Any,
          bond_att: Optional[Dict[int, float]], out: Path, gid: str, title: str,
          scale: str = "relative", top_k: Optional[int] = None) -> Path:
    from gsat.viz import draw_graph_explanation, draw_molecule_explanation

    path = out / f"graph_{_safe_id(gid)}.png"
    if mol is not None:
        return draw_molecule_explanation(mol, bond_att or {}, path, title=title,
                                         scale=scale, top_k=top_k)  # type: ignore[arg-type]
    names = run.dataset.get("node_names")
    node_type = getattr(g, "node_type", None)
    labels = None
    if names and isinstance(node_type, torch.Tensor) and node_type.numel() == g.num_nodes:
        labels = [names[int(t)] if 0 <= int(t) < len(names) else str(int(t))
                  for t in node_type.view(-1)]
    return draw_graph_explanation(g.cpu(), att, path, node_names=labels, title=title,
                                  scale=scale, top_k=top_k,  # type: ignore[arg-type]
                                  molecule=bool(run.is_molecular))


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
                 progress: bool = True, max_pictures: Optional[int] = None,
                 fidelity: bool = True, scale: str = "relative", top_k: Optional[int] = None,
                 html: bool = False, substructures: Optional[bool] = None) -> Dict[str, Any]:
    r"""``gsat explain``: load the run (:func:`load_run`), read :obj:`input_path` (a CSV of
    SMILES for runs on molecules, else a :func:`torch.save` file or InMemoryDataset folder of
    PyG graphs, read safely by :func:`gsat.data.files.read_graph_file`) and
    :func:`explain_graphs` into :obj:`out_dir` (default ``<run_dir>/explain-<input stem>``),
    with ``fidelity.json`` and ``fidelity_curves.csv`` unless :obj:`fidelity` is false.
    A CSV that has the column(s) the run was trained on (``--label-col``) gives each
    molecule's true label; :obj:`scale`, :obj:`top_k`, :obj:`html` and :obj:`substructures`
    are those of :func:`explain_graphs`.

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
        known = read_csv_labels(src, (run.dataset.get("extra") or {}).get("label_cols"),
                                str(run.dataset["task"]))
        graphs, ids, mols, skipped, labels = [], [], [], [], []
        for i, (gid, smi) in enumerate(rows):
            g = smiles_to_graph(smi)
            if g is None:
                skipped.append({"id": gid, "reason": f"RDKit cannot parse SMILES {smi[:60]!r}"})
                continue
            graphs.append(g)
            ids.append(gid)
            mols.append(Chem.MolFromSmiles(smi))
            labels.append(known[i] if known is not None else None)
        return explain_graphs(run, graphs, out, ids=ids, mols=mols, pictures=pictures,
                              progress=progress, skipped=skipped, source=str(src),
                              max_pictures=max_pictures, fidelity=fidelity, labels=labels,
                              scale=scale, top_k=top_k, html=html,
                              substructures=substructures)
    graphs = read_graph_file(src)
    ids = [str(getattr(g, "id", i)) if isinstance(g, Data) and isinstance(
        getattr(g, "id", None), (str, int)) else str(i) for i, g in enumerate(graphs)]
    return explain_graphs(run, graphs, out, ids=ids, pictures=pictures, progress=progress,
                          source=str(src), max_pictures=max_pictures, fidelity=fidelity,
                          scale=scale, top_k=top_k, html=html, substructures=substructures)


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
    fid = summary.get("fidelity")
    if fid and "skipped" in fid:
        lines.append(f"fidelity: {fid['skipped']}")
    elif fid:
        lines.append(f"fidelity (top {fid['kept_share']:.0%} of each graph's edges kept or "
                     f"removed): fid+ {fid['fid_plus']:.2f} (higher is better), fid- "
                     f"{fid['fid_minus']:.2f} (lower), characterization "
                     f"{fid['characterization_score']:.2f} (higher), unfaithfulness "
                     f"{fid['unfaithfulness']:.3f} (lower); deletion AUC "
                     f"{fid['deletion_auc']:.3f} (lower), insertion AUC "
                     f"{fid['insertion_auc']:.3f} (higher): {folder / fid['file']}, curves "
                     f"{folder / fid['curves']}")
    if drawn:
        more = summary["explained"] - drawn
        lines.append(f"pictures: {drawn} in {folder}/graph_*.png"
                     + (f" (the first {drawn}; {more} not drawn: raise --max-pictures)"
                        if more > 0 else ""))
    if summary["files"].get("html"):
        lines.append(f"page: {folder / summary['files']['html']}")
    if summary["files"].get("substructures"):
        lines.append(f"substructures the attention falls on: {folder / 'substructures.md'} "
                     "(and .csv, .png)")
    return "\n".join(lines)
