"""The data package's exception, `DataError`: bad input data, named precisely.

A `DataError` says which file, which item in it (a CSV row, an ARC task, an array) and what is
wrong, in one line. It is defined with the trainer's other errors in `trm.errors` (a `TrmError`,
and a ValueError); the data modules and their callers import it from here.
"""
from __future__ import annotations

from trm.errors import DataError

__all__ = ["DataError"]
