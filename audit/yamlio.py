"""The harness reads YAML with the trainer's strict reader (`trm.yamlio`); here its errors become
InputError, so a bad claims or results file exits with code 2 and one line naming the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from trm.yamlio import YamlFileError, read_yaml as _read_yaml

from audit.errors import InputError


def read_yaml(path: Path) -> Any:
    """Parse one YAML file (duplicate keys, too many aliases, bad UTF-8 rejected); raise InputError('<path>: ...')."""
    try:
        return _read_yaml(path)
    except YamlFileError as err:
        raise InputError(str(err)) from None
