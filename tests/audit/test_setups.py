"""Base setups (claims/setups.yaml): the rewritten claims resolve to the configs pinned before the
rewrite, and broken setups fail with one line naming the file, the claim, the profile and the field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from audit.cli import cli
from audit.registry import load_registry
from trm.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
PINNED = json.loads((ROOT / "tests" / "data" / "resolved_profiles.json").read_text())


def test_every_profile_resolves_to_the_pinned_config():
    """tests/data/resolved_profiles.json holds every claim x profile as resolved before claims had
    bases: the same TrainConfig means every committed record in runs/ stays current. Configs are
    compared by meaning, as audit.evidence.same_config judges records: a trainer field added since,
    whose default keeps the old behaviour, changes the hash but not the config."""
    registry = load_registry([ROOT / "claims"])
    resolved = {claim.id: {
        name: {"config": p.config, "comparable": p.comparable,
               "description": p.description, "hardware": p.hardware, "time": p.time, "estimate": p.estimate}
        for name, p in claim.profiles.items()} for claim in registry.claims}
    assert set(PINNED) <= set(resolved)  # claims registered later are not pinned
    for claim_id, profiles in PINNED.items():
        assert set(profiles) <= set(resolved[claim_id]), claim_id  # profiles registered later are not pinned
        for name, pinned in profiles.items():
            expected = {k: v for k, v in pinned.items() if k != "config_hash"}
            expected["config"] = TrainConfig.from_dict(pinned["config"])
            assert resolved[claim_id][name] == expected, f"{claim_id} {name}"


def test_every_declared_smoke_seed_keeps_the_pinned_data():
    """Smoke profiles are data_seed fixed: seed k's config is the pinned one with seed k and nothing
    else changed, so the committed records of seeds 1 and 2 stay current too."""
    registry = load_registry([ROOT / "claims"])
    for claim_id in PINNED:  # claims registered later have no committed records to keep current
        smoke = registry.claim(claim_id).profiles["smoke"]
        for seed in smoke.seeds:  # judged by meaning, as records are: fields added since keep their defaults
            pinned = TrainConfig.from_dict({**PINNED[claim_id]["smoke"]["config"], "seed": seed})
            assert smoke.config_for(seed) == pinned, claim_id


def copy_claims(tmp_path: Path, *names: str) -> Path:
    """The shipped setups file and the named claims files in a fresh directory, to edit."""
    for name in ("setups.yaml", *names):
        (tmp_path / name).write_text((ROOT / "claims" / name).read_text())
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"edit {old!r} no longer applies to {path.name}"
    path.write_text(text.replace(old, new))


def claims_error(*args) -> str:
    result = CliRunner().invoke(cli, ["claims", *map(str, args), "--no-count"])
    message = result.output.strip()
    assert result.exit_code == 2, result.output
    assert "\n" not in message and "Traceback" not in message, message
    return message


# (what is broken, file edited, old text, new text, fragments the one-line error must hold)
BROKEN = [
    ("unknown base in a claim", "sudoku_mlp.yaml", "smoke: {base: proxy-sudoku}", "smoke: {base: proxy-sudok}",
     ["sudoku_mlp.yaml: sudoku-extreme/trm-mlp: profiles.smoke.base: unknown setup 'proxy-sudok'"]),
    ("unknown key in an override", "sudoku_mlp.yaml", "smoke: {base: proxy-sudoku}",
     "smoke: {base: proxy-sudoku, train: {lrr: 0.1}}", ["sudoku-extreme/trm-mlp: profiles.smoke.train.lrr: unknown key"]),
    ("override section not a mapping", "sudoku_mlp.yaml", "smoke: {base: proxy-sudoku}",
     "smoke: {base: proxy-sudoku, train: 5}", ["sudoku-extreme/trm-mlp: profiles.smoke.train: expected a mapping, got 5"]),
    ("bad override value", "sudoku_mlp.yaml", "smoke: {base: proxy-sudoku}",
     "smoke: {base: proxy-sudoku, train: {lr: fast}}",
     ["sudoku-extreme/trm-mlp: profiles.smoke.train.lr: expected a positive number, got 'fast'"]),
    ("unknown key in a base", "setups.yaml", "lr_warmup_steps: 50,", "lr_warmup_step: 50,",
     ["setups.yaml: setups.proxy.train.lr_warmup_step: unknown key"]),
    ("unknown base in a setup", "setups.yaml", "    base: proxy\n    description: \"CPU proxy: generated 5x5",
     "    base: proxi\n    description: \"CPU proxy: generated 5x5", ["setups.yaml: setups.proxy-maze.base: unknown setup 'proxi'"]),
    ("cycle", "setups.yaml", "  proxy:\n    comparable: false\n", "  proxy:\n    base: proxy-arc\n    comparable: false\n",
     ["setups.yaml: setups.proxy.base: cycle proxy -> proxy-arc -> proxy"]),
    ("chain of three setups", "setups.yaml", "  proxy:\n    comparable: false\n",
     "  proxy:\n    base: paper-arc\n    comparable: false\n",
     ["setups.proxy-sudoku.base: chain proxy-sudoku -> proxy -> paper-arc is longer than 2 setups"]),
    ("bad value set by a base", "setups.yaml", "lr_warmup_steps: 50,", "lr_warmup_steps: -5,",
     ["sudoku_mlp.yaml: sudoku-extreme/trm-mlp: profiles.smoke.train.lr_warmup_steps: expected a number >= 0, got -5",
      "(set by setup 'proxy' in"]),
]


@pytest.mark.parametrize("what, name, old, new, fragments", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_setups_fail_with_one_line(tmp_path, what, name, old, new, fragments):
    directory = copy_claims(tmp_path, "sudoku_mlp.yaml")
    edit(directory / name, old, new)
    message = claims_error(directory)
    assert message.startswith(f"Error: {directory}"), message
    for fragment in fragments:
        assert fragment in message, message


def test_a_base_without_a_setups_file_is_bad_input(tmp_path):
    (tmp_path / "sudoku_mlp.yaml").write_text((ROOT / "claims" / "sudoku_mlp.yaml").read_text())
    message = claims_error(tmp_path / "sudoku_mlp.yaml")
    assert "profiles.paper.base: names setup 'trm-mlp-sudoku' but there is no setups.yaml" in message, message


def test_a_single_claims_file_finds_its_setups_and_a_shell_glob_skips_the_setups_file():
    whole = load_registry([ROOT / "claims"])
    one = load_registry([ROOT / "claims" / "sudoku_mlp.yaml"])
    globbed = load_registry(sorted((ROOT / "claims").glob("*.yaml")))
    assert one.claim("sudoku-extreme/trm-mlp").profiles == whole.claim("sudoku-extreme/trm-mlp").profiles
    assert [c.id for c in globbed.claims] == [c.id for c in whole.claims]


def test_a_claim_override_wins_over_its_base_and_sections_merge_key_by_key():
    profile = load_registry([ROOT / "claims"]).claim("arc-agi-1/trm-att-h3l6").profiles["smoke"]
    assert profile.resolution.bases == ("proxy-arc", "proxy")
    assert profile.model.l_cycles == 6 and profile.resolution.origins["model.l_cycles"] == "claim"
    assert profile.resolution.replaced["model.l_cycles"] == ("proxy", 3)
    assert profile.model.hidden_size == 64 and profile.resolution.origins["model.hidden_size"] == "proxy"
    assert profile.train.lr == 1e-3 and profile.resolution.origins["train.lr"] == "proxy-arc"


@pytest.mark.parametrize("claim_id", sorted(PINNED))
def test_show_prints_yaml_that_pastes_back_as_the_same_profiles(tmp_path, claim_id):
    """`claims --show` output, pasted under `profiles:` of the claim with no setups file around, loads
    to the same configs: what a researcher copies is the complete setup."""
    result = CliRunner().invoke(cli, ["claims", str(ROOT / "claims"), "--show", claim_id])
    assert result.exit_code == 0, result.output
    claim_file = ROOT / load_registry([ROOT / "claims"]).claim(claim_id).file
    (fields,) = [c for c in yaml.safe_load(claim_file.read_text())["claims"] if c["id"] == claim_id]
    del fields["profiles"]
    claim_text = yaml.safe_dump({"claims": [fields]}, sort_keys=False, width=10**9)
    pasted = "\n".join("    " + line for line in result.output.splitlines())
    (tmp_path / "pasted.yaml").write_text(claim_text + "  profiles:\n" + pasted + "\n")
    reloaded = load_registry([tmp_path / "pasted.yaml"]).claim(claim_id)
    pinned = {n: TrainConfig.from_dict(p["config"]) for n, p in PINNED[claim_id].items()}
    assert {n: p.config for n, p in reloaded.profiles.items() if n in pinned} == pinned
    registered = load_registry([ROOT / "claims"]).claim(claim_id).profiles  # profiles added since the pin
    assert {n: p.config for n, p in reloaded.profiles.items()} == {n: p.config for n, p in registered.items()}
    assert all(p.resolution.bases == () for p in reloaded.profiles.values())


def test_show_marks_each_origin_and_checks_its_arguments():
    result = CliRunner().invoke(cli, ["claims", str(ROOT / "claims"), "--show", "sudoku-extreme/hrm", "--profile", "smoke"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("# base: proxy-sudoku <- proxy")
    assert any(line.strip().startswith("ema_rate: 0.99") and line.endswith("# claim (instead of proxy's 0.98)")
               for line in lines)
    assert any(line.strip().startswith("hidden_size: 64") and line.endswith("# proxy") for line in lines)
    assert any(line.strip().startswith("rope_theta: 10000.0") and line.endswith("# default") for line in lines)
    assert "unknown claim 'no/such'" in claims_error(ROOT / "claims", "--show", "no/such")
    assert "has no profile 'fast'" in claims_error(ROOT / "claims", "--show", "sudoku-extreme/hrm", "--profile", "fast")
    assert "only with --show" in claims_error(ROOT / "claims", "--profile", "smoke")


@pytest.mark.parametrize("value", ["two\nlines: here", "x # not a comment", "< 36 h", "yes", "0.5", 1e-5, None, True])
def test_show_writes_values_that_read_back_the_same(value):
    from audit.listing import _scalar

    assert yaml.safe_load(f"key: {_scalar(value)}")["key"] == value
