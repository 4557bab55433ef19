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


def yaml_files_in(directory: Path, what: str) -> list[Path]:
    """The `*.yaml` files of `directory`, sorted; hidden entries (dot files: editors', atomic writes'
    temporaries) are skipped. Any other entry is refused rather than skipped in silence: a `.yml`
    file (one spelling keeps ids, globs and `setups.yaml` unambiguous) or a stray file or folder
    would otherwise be missing from the audit without a word. `what` names the files in the message.
    """
    files = []
    for entry in sorted(Path(directory).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.suffix == ".yml":
            raise InputError(f"{entry}: {what} files end in .yaml; rename it to {entry.with_suffix('.yaml').name}")
        if entry.suffix != ".yaml" or not entry.is_file():
            kind = "a directory" if entry.is_dir() else "not a .yaml file"
            raise InputError(f"{entry}: {kind}; only {what} files (*.yaml) belong in {entry.parent}")
        files.append(entry)
    return files
