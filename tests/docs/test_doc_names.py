"""Every dotted gsat name the documentation mentions (``gsat.io.checkpoint.load_checkpoint``,
or package-relative as docs/ARCHITECTURE.md writes them, ```training.driver.run```) exists."""
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "notebooks" / "README.md",
        *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.md"))]
#: gsat.a.b, not part of a path (gsat/...), a file name (gsat.yml) or a YAML key (gsat.x: 1)
NAME = re.compile(r"(?<![\w/.-])gsat(?:\.[A-Za-z_]\w*)+(?!\w*:)")
PACKAGES = "core|nn|data|metrics|runs|training|explain|benchmark|app"
RELATIVE = re.compile(rf"`((?:{PACKAGES})(?:\.[A-Za-z_]\w*)+)")
FILE_SUFFIXES = (".py", ".yml", ".md", ".json", ".jsonl", ".csv", ".pt", ".png", ".svg",
                 ".html")


def resolves(dotted: str) -> bool:
    """Whether :obj:`dotted` is a module or an attribute path below one. A module that needs
    a package this environment lacks is skipped."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("gsat"):
                pytest.skip(f"{dotted} needs {exc.name}")
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            return False
        return True
    return False


def names_in(line: str):
    """The gsat names of one line of documentation."""
    names = [m.group(0) for m in NAME.finditer(line)]
    names += ["gsat." + m.group(1) for m in RELATIVE.finditer(line)]
    return [name for name in names if not name.endswith(FILE_SUFFIXES)]


def mentioned_names():
    """(name, where) for every gsat name in the documentation."""
    found = []
    for path in DOCS:
        if path.exists():
            for n, line in enumerate(path.read_text().splitlines(), 1):
                found += [(name, f"{path.relative_to(ROOT)}:{n}") for name in names_in(line)]
    return found


def test_names_found_in_the_docs():
    names = {name for name, _ in mentioned_names()}
    assert {"gsat.io.checkpoint.load_checkpoint", "gsat.core.functional",
            "gsat.training.driver.run"} <= names
    # a path, a YAML key and file names are not names
    assert names_in("`gsat.viz`, gsat/configs/x.yml, gsat.separate_bn_stats: true, "
                    "`metrics.csv`, `core.model.GSAT`") == ["gsat.viz", "gsat.core.model.GSAT"]
    assert resolves("gsat.core.model.GSAT") and resolves("gsat.viz")
    assert not resolves("gsat.io.files.load_checkpoint")


def test_every_gsat_name_in_the_docs_exists():
    missing = sorted({f"{name} ({where})" for name, where in mentioned_names()
                      if not resolves(name)})
    assert not missing, "documented names that do not exist: " + ", ".join(missing)
