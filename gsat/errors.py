"""Exceptions that describe a mistake the user can fix (bad config, unknown name, missing data),
and the exit codes of the command line.

The command line turns these into one readable line; library users can catch them as ordinary
:class:`ValueError` / :class:`FileNotFoundError` / :class:`OSError`.

Exit codes of ``gsat`` (:data:`EXIT_CODES`; :func:`exit_code` maps an exception to its code):

====  ==========================================================================================
code  meaning
====  ==========================================================================================
0     success
1     the run failed although the input was valid: an I/O failure (disk full, unwritable
      folder, a run folder deleted while the run wrote it: :class:`DiskWriteError` and its
      :class:`RunFolderLostError`, or another :class:`OSError`), or training diverged (NaN
      or infinite loss: :class:`TrainingDivergedError`); the last complete epoch is kept
2     an input mistake: bad command-line argument, config value or file
      (:class:`ConfigError`), unknown name (:class:`UnknownNameError`), malformed graph
      (:class:`GraphInputError`), missing data (:class:`DataMissingError`), unusable checkpoint
      (:class:`CheckpointError`), a run folder in use by another process
      (:class:`RunInUseError`); every other :class:`GSATError`
130   interrupted by Ctrl-C (SIGINT, 128 + 2); complete epochs are saved, the run resumes
143   terminated by SIGTERM (128 + 15, e.g. a scheduler's time limit): handled like Ctrl-C
      (:class:`Terminated`), complete epochs are saved, the run resumes
====  ==========================================================================================
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional


class GSATError(Exception):
    """Base class of all user-facing errors raised by :mod:`gsat`."""


class ConfigError(GSATError, ValueError):
    """A configuration file or value is invalid."""


class UnknownNameError(GSATError, ValueError):
    """A name (dataset, backbone, explainer, ...) is not one of the known choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        self.suggestion = closest_name(name, self.choices)
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        super().__init__(f"unknown {kind} {name!r}{hint}; choose one of: "
                         f"{', '.join(self.choices)}")


def closest_name(name: object, choices: Iterable[str]) -> Optional[str]:
    """The choice closest to :obj:`name` (a typo such as ``ba2motifs`` for ``ba_2motifs``,
    or another case), :obj:`None` when none is close."""
    import difflib

    if not isinstance(name, str):
        return None
    choices = list(choices)
    folded = {c.lower().replace("-", "_"): c for c in choices}
    key = name.lower().replace("-", "_")
    if key in folded and folded[key] != name:
        return folded[key]
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.75)
    return folded[match[0]] if match else None


class DataMissingError(GSATError, FileNotFoundError):
    """Files a dataset needs are absent and could not be obtained."""


class GraphInputError(GSATError, ValueError):
    """A graph handed to a model does not have the expected structure or values."""


class CheckpointError(GSATError, ValueError):
    """A checkpoint file is missing, unreadable, unsafe to load, or does not fit the model."""


class TrainingDivergedError(GSATError, FloatingPointError):
    """The training loss became NaN or infinite; the last complete epoch's checkpoint is kept."""


class DiskWriteError(GSATError, OSError):
    r"""Writing a file failed (disk full, read-only or missing folder, quota ...); no partial
    file was left in place of the target.

    Args:
        message (str): one line naming the folder (and the bytes needed, where known).
        errno (int, optional): the operating system's error number. (default: :obj:`None`)
        folder (str, optional): the folder written to. (default: :obj:`None`)
        needed (int, optional): bytes the write needed. (default: :obj:`None`)
    """

    def __init__(self, message: str, errno: Optional[int] = None, folder: Optional[str] = None,
                 needed: Optional[int] = None):
        super().__init__(message)
        self.errno, self.folder, self.needed = errno, folder, needed

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RunFolderLostError(DiskWriteError):
    """The run folder was deleted, moved or replaced while a run was writing it; the run
    stops instead of writing an incomplete folder (exit code 1)."""


class RunInUseError(GSATError, RuntimeError):
    """A run folder is locked by another running process (two runs must not write one folder)."""


class Terminated(KeyboardInterrupt):
    r"""The process received SIGTERM (e.g. from a scheduler such as Slurm). A subclass of
    :class:`KeyboardInterrupt`, so it takes exactly the path of Ctrl-C (writes finish, complete
    epochs are kept, the resume line is printed); only the exit code differs (143)."""


EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

#: The exit codes of the ``gsat`` command (see the table in this module's docstring).
EXIT_CODES: Dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILURE: "failure with valid input: I/O error (e.g. disk full, or the run folder "
                  "deleted during the run) or training diverged (NaN/inf loss)",
    EXIT_USAGE: "input mistake: bad argument, config, file, name, graph or checkpoint",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (SIGINT); complete epochs saved, resumable",
    EXIT_TERMINATED: "terminated by SIGTERM; complete epochs saved, resumable",
}


def exit_code(exc: BaseException) -> int:
    r"""The exit code (:data:`EXIT_CODES`) for an exception that ended a command.

    :class:`Terminated` gives 143, any other :class:`KeyboardInterrupt` 130; a
    :class:`DiskWriteError`, :class:`TrainingDivergedError`, :class:`FloatingPointError` or
    any other :class:`OSError` 1; every other :class:`GSATError` 2; anything else (a bug) 1.
    """
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (DiskWriteError, FloatingPointError)):
        return EXIT_FAILURE
    if isinstance(exc, GSATError):
        return EXIT_USAGE
    return EXIT_FAILURE
