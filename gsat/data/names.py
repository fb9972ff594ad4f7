r"""Names of the built-in datasets that live in modules with heavy imports, kept here so that
the registry can list them without importing those modules."""
from __future__ import annotations

from typing import Dict

#: registry name -> ogb dataset name (Hu et al., NeurIPS 2020)
OGB_MOL_DATASETS: Dict[str, str] = {
    "ogbg_molhiv": "ogbg-molhiv",
    "ogbg_moltox21": "ogbg-moltox21",
    "ogbg_molbace": "ogbg-molbace",
    "ogbg_molbbbp": "ogbg-molbbbp",
    "ogbg_molclintox": "ogbg-molclintox",
    "ogbg_molsider": "ogbg-molsider",
    # regression (RMSE, ogb's evaluator)
    "ogbg_molesol": "ogbg-molesol",
    "ogbg_molfreesolv": "ogbg-molfreesolv",
    "ogbg_mollipo": "ogbg-mollipo",
}
