import os
import subprocess
import sys

import pytest

CODE = """
import os, sys
{pre}
from gsat.app.cli import use_huge_pages
use_huge_pages()
print(os.environ.get("THP_MEM_ALLOC_ENABLE"))
"""


@pytest.mark.parametrize("pre,preset,expected", [
    ("", None, "1"),                 # the command line turns it on before torch starts
    ("", "0", "0"),                  # a user's own setting is kept
    ("import torch", None, "None"),  # too late once torch runs: left alone
])
def test_huge_pages_are_asked_for_before_torch_starts(pre, preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    out = subprocess.run([sys.executable, "-c", CODE.format(pre=pre)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == expected
