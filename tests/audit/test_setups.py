"""Base setups (claims/setups.yaml): the rewritten claims resolve to the configs pinned before the
rewrite, and broken setups fail with one line naming the file, the claim, the profile and the field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
PINNED = json.loads((ROOT / "tests" / "data" / "resolved_profiles.json").read_text())


def test_every_profile_resolves_to_the_pinned_config():
    """tests/data/resolved_profiles.json holds every claim x profile as resolved before claims had
    bases: the same TrainConfig and hash means every committed record in runs/ stays current."""
    registry = load_registry([ROOT / "claims"])
    resolved = {claim.id: {
        name: {"config": p.config.to_dict(), "config_hash": p.config.config_hash(), "comparable": p.comparable,
               "description": p.description, "hardware": p.hardware, "time": p.time, "estimate": p.estimate}
        for name, p in claim.profiles.items()} for claim in registry.claims}
    assert set(resolved) == set(PINNED)
    for claim_id, profiles in PINNED.items():
        assert set(resolved[claim_id]) == set(profiles), claim_id
        for name, pinned in profiles.items():
            assert resolved[claim_id][name] == pinned, f"{claim_id} {name}"
