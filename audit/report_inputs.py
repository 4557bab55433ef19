"""Checksums of a report's inputs (summary.json `inputs`), so that `report --check` names the input
file whose content changed (a one-digit edit of a run.json) instead of the first report line it moved.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence

from audit.records import EXTERNAL_DIR, record_paths
from audit.setups import SETUPS_FILE


def input_checksums(registry, records: Sequence, runs_dir: Path) -> dict[str, str]:
    """Input file -> SHA-256 of its bytes, for every file the report reads: each run.json under
    runs_dir (damaged ones too), the metrics.csv beside each readable record, the external result
    files, and the claims files with the setups.yaml next to them. Paths as given (relative when
    the report was asked with relative paths), so a committed summary.json names files in the repo.
    """
    files = set(record_paths(runs_dir)[0])
    files |= {record.path.parent / "metrics.csv" for record in records}
    files |= set((runs_dir / EXTERNAL_DIR).glob("*.yaml"))
    claim_files = {Path(item.file) for item in (*registry.claims, *registry.comparisons) if item.file}
    files |= claim_files | {f.parent / SETUPS_FILE for f in claim_files}
    checksums = {}
    for path in sorted(files):
        try:
            checksums[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:  # absent (a run without metrics.csv, no setups file) or unreadable: not an input
            continue
    return checksums


def changed_input(committed: Path, fresh: Path) -> Optional[str]:
    """The first input file whose checksum differs between two summary.json files (added, removed or
    changed), in one line; None when they agree or the committed summary has no checksums (older)."""
    try:
        old = json.loads(committed.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(old, dict) or not old:
        return None
    new = json.loads(fresh.read_text(encoding="utf-8"))["inputs"]
    for path in sorted(set(old) | set(new)):
        if path not in new:
            return f"{path}: input gone since the report was generated (listed in {committed})"
        if path not in old:
            return f"{path}: new input since the report was generated (not in {committed})"
        if old[path] != new[path]:
            return f"{path}: content changed since the report was generated (its SHA-256 in {committed} differs)"
    return None
