"""`trm-audit import --dry-run | --list | --remove ID`: validate without writing, list, delete safely."""
from __future__ import annotations

import json

from click.testing import CliRunner

from audit.cli import cli

from tests.audit.test_external import GOOD, cli_args, write


def invoke(tmp_path, *args):
    return CliRunner().invoke(cli, cli_args(tmp_path, *args))


def test_dry_run_validates_and_writes_nothing(tmp_path):
    source = write(tmp_path, GOOD)
    target = tmp_path / "runs" / "external" / "toy-repro.yaml"
    dry = invoke(tmp_path, str(source), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith(f"would import {target} (Toy reproduction; comparable: true)")
    assert not (tmp_path / "runs").exists()
    (tmp_path / "bad").mkdir()
    bad = write(tmp_path / "bad", GOOD.replace("pm_kind: sd", "pm_kind: std"))
    refused = invoke(tmp_path, str(bad), "--dry-run")
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "toy/alpha (short): pm_kind" in refused.output and not target.exists()
    assert invoke(tmp_path, str(source)).exit_code == 0
    again = invoke(tmp_path, str(source), "--dry-run", "--json")
    assert json.loads(again.stdout)["action"] == "unchanged" and json.loads(again.stdout)["written"] is False
    (tmp_path / "other").mkdir()
    changed = write(tmp_path / "other", GOOD.replace("85.0", "86.0"))
    clash = invoke(tmp_path, str(changed), "--dry-run")
    assert clash.exit_code == 2 and "already imported" in clash.output  # as the real import would refuse
    replace = invoke(tmp_path, str(changed), "--dry-run", "--replace")
    assert replace.exit_code == 0 and replace.output.startswith(f"would replace {target}")
    assert "85.0" in target.read_text()


def test_list_shows_each_set_and_a_broken_one_with_its_problem(tmp_path):
    assert invoke(tmp_path, "--list").output.strip() == f"no imported result sets in {tmp_path / 'runs' / 'external'}"
    assert invoke(tmp_path, str(write(tmp_path, GOOD))).exit_code == 0
    external = tmp_path / "runs" / "external"
    (external / "broken.yaml").write_text(GOOD.replace("claim: toy/beta", "claim: toy/gamma"))
    listed = invoke(tmp_path, "--list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("broken  INVALID: ") and "unknown claim 'toy/gamma'" in lines[0]
    assert lines[1] == "toy-repro  Toy reproduction (comparable: true; 3 results: toy/alpha, toy/beta)"
    as_json = json.loads(invoke(tmp_path, "--list", "--json").stdout)
    assert [(s["id"], s["problem"] is None) for s in as_json] == [("broken", False), ("toy-repro", True)]
    assert [r["source"] for r in as_json[1]["set"]["results"]] == ["toy-repro (long)", "toy-repro (short)", "toy-repro"]


def test_remove_deletes_one_set_and_refuses_unknown_ids(tmp_path):
    assert invoke(tmp_path, str(write(tmp_path, GOOD))).exit_code == 0
    external = tmp_path / "runs" / "external"
    (tmp_path / "runs" / "outside.yaml").write_text(GOOD)
    for name in ("nope", "../outside", "toy-repro.yaml", "TOY-REPRO"):
        refused = invoke(tmp_path, "--remove", name)
        assert refused.exit_code == 2, name
        assert refused.output.strip().splitlines() == [
            f"Error: --remove: no imported result set {name!r} in {external} (known: toy-repro)"]
    assert (tmp_path / "runs" / "outside.yaml").exists()
    dry = invoke(tmp_path, "--remove", "toy-repro", "--dry-run")
    assert dry.exit_code == 0 and dry.output.startswith("would remove") and (external / "toy-repro.yaml").exists()
    removed = invoke(tmp_path, "--remove", "toy-repro", "--json")
    assert removed.exit_code == 0
    document = json.loads(removed.stdout)
    assert (document["id"], document["removed"], document["set"]["title"]) == ("toy-repro", True, "Toy reproduction")
    assert removed.stderr.startswith(f"removed {external / 'toy-repro.yaml'} (Toy reproduction)")
    assert list(external.iterdir()) == []
    assert invoke(tmp_path, "--remove", "toy-repro").exit_code == 2  # gone: a second remove is refused


def test_modes_are_exclusive(tmp_path):
    source = str(write(tmp_path, GOOD))
    for args in ([], [source, "--list"], ["--list", "--remove", "x"], ["--list", "--replace"]):
        result = invoke(tmp_path, *args)
        assert result.exit_code == 2, args
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
