"""Shared fixtures of the reliability suite: the uninterrupted reference plan that every kill and
concurrency test compares against (trained once per session, in a child process like the others)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reliability_kit as kit  # noqa: E402


@dataclass(frozen=True)
class Reference:
    runs_dir: Path
    signatures: dict  # relative run dir -> kit.record_signature
    seconds: float  # wall time of the uninterrupted `trm-audit run`
    metrics_rows: int  # rows of every metrics.csv together


@pytest.fixture(scope="session")
def reference_plan(tmp_path_factory) -> Reference:
    """`trm-audit run` of the kill plan (seeds 0 and 1), never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    outcome = kit.trm_audit(kit.plan_args(root / "runs", root / "cache"), root)
    assert outcome.returncode == 0, outcome.stderr
    signatures = kit.plan_signatures(root / "runs")
    assert sorted(signatures) == ["rel/mlp/smoke/seed-0", "rel/mlp/smoke/seed-1"]
    assert all(s["record"]["status"] == "completed" for s in signatures.values())
    rows = sum(len(p.read_text().splitlines()) - 1 for p in (root / "runs").rglob("metrics.csv"))
    return Reference(root / "runs", signatures, outcome.seconds, rows)
