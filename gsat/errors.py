"""Exceptions that describe a mistake the user can fix (bad config, unknown name, missing data).

The command line turns these into one readable line and exit code 2; library users can catch
them as ordinary :class:`ValueError` / :class:`FileNotFoundError`.
"""
from __future__ import annotations

from typing import Iterable


class GSATError(Exception):
    """Base class of all user-facing errors raised by :mod:`gsat`."""


class ConfigError(GSATError, ValueError):
    """A configuration file or value is invalid."""


class UnknownNameError(GSATError, ValueError):
    """A name (dataset, backbone, explainer, ...) is not one of the known choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(self.choices)}")


class DataMissingError(GSATError, FileNotFoundError):
    """Files a dataset needs are absent and could not be obtained."""


class GraphInputError(GSATError, ValueError):
    """A graph handed to a model does not have the expected structure or values."""


class CheckpointError(GSATError, ValueError):
    """A checkpoint file is missing, unreadable, unsafe to load, or does not fit the model."""


class TrainingDivergedError(GSATError, FloatingPointError):
    """The training loss became NaN or infinite; the last complete epoch's checkpoint is kept."""
