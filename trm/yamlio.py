"""Reading YAML that users wrote: strict, bounded, and with errors that name the file and line.

PyYAML's safe loader silently keeps the last of two duplicate keys and expands aliases without
limit; both turn a typo or a hostile file into a wrong run or an endless parse. This loader rejects
duplicate keys and caps the number of aliases, and every failure becomes one `YamlFileError` whose
message starts with the file (and the line, where there is one). Both CLIs read their YAML here:
`python -m trm` its TrainConfig files, the harness its claims and results files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_ALIASES = 200  # generous for hand-written anchors, far below a "billion laughs" expansion
MAX_BYTES = 5_000_000  # a config, claims or results file is a few kB; refuse to parse megabytes of it


class YamlFileError(Exception):
    """A YAML file that cannot be read or parsed; the message is one line, '<path>: ...'."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and too many aliases."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases_seen = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases_seen += 1
            if self._aliases_seen > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"line {mark.line + 1}: more than {MAX_ALIASES} aliases (refusing to expand)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.YAMLError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path | str) -> Any:
    """Parse one YAML file into plain Python values; raise YamlFileError('<path>: line N: ...') on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise YamlFileError(f"{path}: cannot read: {err.strerror or err}") from None
    if len(raw) > MAX_BYTES:
        raise YamlFileError(f"{path}: file is {len(raw)} bytes, more than the {MAX_BYTES} allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlFileError(f"{path}: not UTF-8 text (byte {err.start})") from None
    if not text.strip():
        raise YamlFileError(f"{path}: file is empty")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise YamlFileError(f"{path}: {line}YAML syntax error: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise YamlFileError(f"{path}: {err}") from None
    except RecursionError:
        raise YamlFileError(f"{path}: YAML nested too deeply") from None
