r"""Module attributes imported on first use (PEP 562), so that importing a package does not
import the heavy libraries behind every name it exports."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, MutableMapping


def lazy_getattr(package: str, namespace: MutableMapping[str, Any],
                 exports: Dict[str, str]) -> Callable[[str], Any]:
    r"""A module ``__getattr__`` that imports :obj:`exports[name]` (a module path; a value
    ending in ``":module"`` means the submodule itself) on first access of :obj:`name` and
    caches the value in :obj:`namespace` (the module's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = exports[name]
        if target.endswith(":module"):
            value = importlib.import_module(target[: -len(":module")])
        else:
            value = getattr(importlib.import_module(target), name)
        namespace[name] = value
        return value

    return __getattr__
