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


UNKNOWN_DATASET = """
import sys
from gsat.app.cli import main
try:
    main({argv!r})
except SystemExit as exc:
    print("exit", exc.code, "torch" in sys.modules)
"""


@pytest.mark.parametrize("argv,closest", [
    (["train", "--dataset", "ba2motifs", "--epochs", "2"], "ba_2motifs"),
    (["--dataset", "MUTAG"], "mutag"),
    (["benchmark", "--dataset", "spmotif_05"], "spmotif_0.5"),
    (["train", "--dataset", "zinc"], None),
])
def test_an_unknown_dataset_is_refused_before_torch_loads(argv, closest):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", UNKNOWN_DATASET.format(argv=argv)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["exit", "2", "False"], proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"gsat: error: unknown dataset {argv[argv.index('--dataset') + 1]!r}")
    assert (f"(did you mean {closest!r}?)" in line) == (closest is not None)


@pytest.mark.parametrize("argv,message", [
    (["train", "--dataset", "ba_2motifs", "--config", "{bad}"],
     "{bad}: train.epochs must be >= 1"),
    (["--dataset", "ba_2motifs", "--config", "{tmp}/missing.yml"],
     "config file {tmp}/missing.yml does not exist"),
    (["train", "--dataset", "ba_2motifs", "--backbone", "GAT"], "unknown backbone 'GAT'"),
    (["train", "--dataset", "ba_2motifs", "--out", " "], "the path must name a file or folder"),
])
def test_flag_and_config_mistakes_are_refused_before_torch_loads(tmp_path, argv, message):
    """Parsing the flags and reading a --config file need no PyTorch: a mistake there costs
    the user a fraction of a second, not the seconds PyTorch Geometric takes to load."""
    bad = tmp_path / "bad.yml"
    bad.write_text("train:\n  epochs: -1\n")
    argv = [a.format(bad=bad, tmp=tmp_path) for a in argv]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", UNKNOWN_DATASET.format(argv=argv)], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.stdout.split() == ["exit", "2", "False"], proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert message.format(bad=bad, tmp=tmp_path) in line, line


def test_help_shows_dataset_option_and_the_exit_codes_of_each_command(capsys):
    from gsat.app.cli import main

    def help_of(*argv):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        return capsys.readouterr().out

    assert "--dataset-option KEY=VALUE" in help_of("train")
    for command in ("explain", "influence"):
        text = help_of(command)
        assert "resumable" not in text and "130  interrupted by Ctrl-C (SIGINT); nothing to " \
                                          "resume: run the command again" in text
    assert "complete epochs saved, resumable" in help_of("train")
