"""Seeds declared by the profiles: the seed-list syntax, the registry fields, and `trm-audit run`
training (and listing) the declared seeds unless --seeds overrides them."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import InputError
from audit.plan import expand_plan
from audit.claim_rules import OFFICIAL_DATA_SEED
from audit.registry import load_registry
from audit.seed_lists import MAX_SEED, MAX_SEEDS, format_seeds, parse_seed_list
from trm.schema import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "two_claims.yaml"


@pytest.mark.parametrize("text, seeds", [
    ("0", (0,)), ("0,1,2", (0, 1, 2)), ("0-4", (0, 1, 2, 3, 4)), ("0,2,5-7", (0, 2, 5, 6, 7)),
    (" 3 , 1 ", (3, 1)), ("7-7", (7,)), (f"{MAX_SEED}", (MAX_SEED,)),
])
def test_seed_lists_name_their_seeds_in_order(text, seeds):
    assert parse_seed_list(text, "--seeds") == seeds
    assert parse_seed_list(format_seeds(seeds), "--seeds") == seeds


@pytest.mark.parametrize("text, reason", [
    ("²", "expected seeds as non-negative integers"),  # str.isdigit() is True, int() raises
    ("٣", "expected seeds as non-negative integers"),  # str.isdigit() is True, int() reads 3
    ("1,x", "expected seeds"), ("-1", "expected seeds"), ("", "expected seeds"), ("0,,1", "expected seeds"),
    ("1.5", "expected seeds"), ("0-2-4", "expected seeds"),
    ("5-2", "range '5-2' runs backwards"),
    ("1,0-2", "seed 1 is listed twice"),
    ("0-1000000000", f"at most {MAX_SEEDS} seeds"),  # refused before expanding: must not hang
    (f"{MAX_SEED + 1}", f"outside 0..{MAX_SEED}"),
])
def test_bad_seed_lists_are_refused_with_the_reason(text, reason):
    with pytest.raises(ConfigError, match="^--seeds: ") as caught:
        parse_seed_list(text, "--seeds")
    assert reason in str(caught.value)


def test_format_seeds_writes_runs_of_four_as_ranges():
    assert format_seeds((0, 1, 2)) == "0, 1, 2"
    assert format_seeds(range(5)) == "0-4"
    assert format_seeds((0, 2, 5, 6, 7, 8)) == "0, 2, 5-8"


def test_shipped_profiles_declare_their_seeds_and_data_policy():
    """Paper profiles: at least 3 seeds, data drawn as the official builders draw it. Smoke: the three
    committed seeds on fixed data (data.seed as recorded, so every committed run stays current)."""
    registry = load_registry([ROOT / "claims"])
    for claim in registry.claims:
        paper, smoke = claim.profiles["paper"], claim.profiles["smoke"]
        assert len(paper.seeds) >= 3, claim.id
        assert paper.data_seed == OFFICIAL_DATA_SEED[paper.data.task], claim.id
        assert smoke.seeds == (0, 1, 2) and smoke.data_seed == "fixed", claim.id
        assert smoke.config_for(2).data == smoke.config.data, claim.id
    trm_mlp = registry.claim("sudoku-extreme/trm-mlp").profiles["paper"]
    assert trm_mlp.seeds == (0, 1, 2, 3, 4)  # written "0-4" in claims/setups.yaml
    assert [trm_mlp.config_for(k).data.seed for k in (0, 3)] == [0, 3]
    assert trm_mlp.config_for(0) == trm_mlp.config  # seed 0's config is the same under both policies


def claims_file(tmp_path: Path, profile_extra: str, *, comparable: bool = False) -> Path:
    """The fixture's toy/alpha alone, its smoke profile extended by `profile_extra` (YAML keys)."""
    text = FIXTURE.read_text()
    text = text[:text.index("  - id: toy/beta")]
    anchor = "        deviations: [\"smaller\"]\n"
    text = text.replace(anchor, anchor + "".join(f"        {line}\n" for line in profile_extra.splitlines()))
    if comparable:
        text = text.replace("      smoke:\n        comparable: false", "      smoke:\n        comparable: true")
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("written, seeds", [
    ("seeds: [4, 1]", (4, 1)), ('seeds: "0-2,9"', (0, 1, 2, 9)), ("", (0,)),
])
def test_a_profile_declares_seeds_as_a_list_or_ranges(tmp_path, written, seeds):
    registry = load_registry([claims_file(tmp_path, written)])
    assert registry.claim("toy/alpha").profiles["smoke"].seeds == seeds
    specs = expand_plan(registry, profile="smoke", runs_dir=tmp_path / "runs")
    assert [s.seed for s in specs] == list(seeds) and [s.config.seed for s in specs] == list(seeds)
    assert [s.seed for s in expand_plan(registry, profile="smoke", runs_dir=tmp_path, seeds=[5])] == [5]


@pytest.mark.parametrize("written, message", [
    ("seeds: 3", "profiles.smoke.seeds: expected a list, got 3"),
    ("seeds: []", "profiles.smoke.seeds: expected at least one seed"),
    ("seeds: [0, 0]", "profiles.smoke.seeds: seed 0 is listed twice"),
    ("seeds: [-1]", "profiles.smoke.seeds: seed -1 is outside"),
    ('seeds: "2-0"', "profiles.smoke.seeds: range '2-0' runs backwards"),
    ('seeds: "²"', "profiles.smoke.seeds: expected seeds as non-negative integers"),
    ("data_seed: sometimes", "profiles.smoke.data_seed: expected one of 'run', 'fixed'"),
])
def test_bad_declarations_name_the_file_claim_and_field(tmp_path, written, message):
    path = claims_file(tmp_path, written)
    with pytest.raises(InputError) as caught:
        load_registry([path])
    assert str(caught.value).startswith(f"{path}: toy/alpha: ") and message in str(caught.value)


def test_a_bad_seed_list_in_a_setup_names_the_setup(tmp_path):
    for name in ("setups.yaml", "sudoku_mlp.yaml"):
        (tmp_path / name).write_text((ROOT / "claims" / name).read_text())
    setups = tmp_path / "setups.yaml"
    setups.write_text(setups.read_text().replace('seeds: "0-4"', 'seeds: "0-x"', 1))
    with pytest.raises(InputError, match=r"profiles\.paper\.seeds: expected seeds .* \(set by setup 'paper-sudoku'"):
        load_registry([tmp_path / "sudoku_mlp.yaml"])


def test_a_comparable_sudoku_profile_must_draw_data_per_seed(tmp_path):
    with pytest.raises(InputError, match=r"toy/alpha: profiles\.smoke\.data_seed: the official sudoku builder "
                                         r"draws fresh data for every run.*got 'fixed'"):
        load_registry([claims_file(tmp_path, "data_seed: fixed", comparable=True)])
    load_registry([claims_file(tmp_path, "data_seed: run", comparable=True)])
    load_registry([claims_file(tmp_path, "data_seed: fixed")])  # a proxy may fix its data


def run_cli(*args: str):
    result = CliRunner().invoke(cli, ["run", *args])
    return result, result.output.splitlines()


def test_run_trains_and_lists_the_declared_seeds(tmp_path):
    """`trm-audit run claims/sudoku_mlp.yaml` says which seeds in its first lines and plans all of them."""
    result, lines = run_cli(str(ROOT / "claims" / "sudoku_mlp.yaml"), "--runs-dir", str(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert lines[0].startswith("profile: smoke (the default")
    assert lines[1] == ("seeds: 0, 1, 2 (as declared); every seed trains on one data draw "
                        "(data_seed fixed: data.seed 0)")
    assert lines[2] == "plan: 3 runs (3 new)"
    assert [line.split()[-1] for line in lines[3:6]] == ["0", "1", "2"]
    assert lines[6] == "pre-flight:"
    result, lines = run_cli(str(ROOT / "claims" / "sudoku_mlp.yaml"), "--profile", "paper", "--runs-dir",
                            str(tmp_path), "--dry-run")
    assert "seeds: 0-4 (as declared); each seed draws its own data (data_seed run: data.seed 0 + run seed)" in lines
    assert "plan: 5 runs (5 new)" in lines
    assert result.exit_code == 1 and "sapientinc/sudoku-extreme" in result.output  # pre-flight: the paper's data is absent


def test_seeds_override_the_declared_ones_and_say_so(tmp_path):
    result, lines = run_cli(str(ROOT / "claims" / "sudoku_mlp.yaml"), "--seeds", "0,2,5-7", "--runs-dir",
                            str(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert lines[1].startswith("seeds: 0, 2, 5, 6, 7 (from --seeds; declared: 0, 1, 2)")
    assert "plan: 5 runs (5 new)" in lines


def test_claims_with_different_seeds_get_a_line_each(tmp_path):
    result, lines = run_cli(str(ROOT / "claims"), "--claim", "sudoku-extreme/trm-mlp", "--claim", "arc-agi-1/hrm",
                            "--profile", "paper", "--runs-dir", str(tmp_path), "--dry-run")
    assert result.exit_code == 1, result.output  # pre-flight: the paper's data is absent here
    start = lines.index("seeds per claim:")
    assert lines[start + 1].startswith("  sudoku-extreme/trm-mlp: seeds: 0-4 (as declared); each seed draws")
    assert lines[start + 2] == ("  arc-agi-1/hrm: seeds: 0-4 (as declared); every seed trains on one data draw "
                                "(data_seed fixed: data.seed 42)")


@pytest.mark.parametrize("args, fragment", [
    (["--seeds", "²"], "Error: --seeds: expected seeds as non-negative integers"),
    (["--seeds", "3-1"], "Error: --seeds: range '3-1' runs backwards"),
    (["--seeds", "0-99999999999"], "Error: --seeds: at most"),
    (["--num-seeds", "3"], "No such option '--num-seeds'. (Did you mean one of: '--max-steps', '--seeds'?)"),  # removed: --seeds 0-2 says the same
])
def test_bad_seed_arguments_are_one_line_and_exit_2(tmp_path, args, fragment):
    result, lines = run_cli(str(FIXTURE), *args, "--runs-dir", str(tmp_path), "--dry-run")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0] and "Traceback" not in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_summary_and_report_show_declared_against_completed_seeds(tmp_path):
    """summary.json: each profile result's declared_seeds and data_seed (null for external results);
    report.md: the 'Seeds: declared vs completed' table, with a missing seed as missing."""
    from audit.report import build_report, load_inputs

    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)
    shutil.rmtree(runs / "sudoku-extreme" / "trm-mlp" / "smoke" / "seed-2")
    files = build_report(load_inputs(runs, [ROOT / "claims"]))
    summary = json.loads(files["summary.json"])
    results = {(c["id"], r["source"]): r for c in summary["claims"] for r in c["results"]}
    mlp = results[("sudoku-extreme/trm-mlp", "smoke")]
    assert (mlp["declared_seeds"], mlp["data_seed"], mlp["n"]) == ([0, 1, 2], "fixed", 2)
    assert all(r["declared_seeds"] is None and r["data_seed"] is None
               for r in results.values() if r["kind"] == "external")
    report = files["report.md"].decode()
    assert "### Seeds: declared vs completed" in report
    assert "| sudoku-extreme/trm-mlp | smoke (proxy) | 0, 1, 2 | 0, 1 | — | 2 | fixed |" in report
    assert "| sudoku-extreme/trm-att | smoke (proxy) | 0, 1, 2 | 0, 1, 2 | — | — | fixed |" in report


def test_a_seed_list_grown_after_a_look_says_so_in_the_summary_and_report(tmp_path):
    """A profile's `seeds_note` (seeds added after results were seen) reaches summary.json beside the
    declared seeds and the report under the seeds table, once per note; profiles without one say nothing."""
    from audit.report import Inputs, build_report
    from tests.audit.summary_inputs import record

    text = FIXTURE.read_text().replace('deviations: ["smaller"]\n',
                                       'deviations: ["smaller"]\n        seeds: "0-3"\n'
                                       '        seeds_note: "seeds 2-3 added after a look"\n')
    claims = tmp_path / "claims.yaml"
    claims.write_text(text)
    registry = load_registry([claims])
    records = (record(registry, "toy/alpha", "smoke", 0, 75.0), record(registry, "toy/beta", "smoke", 0, 50.0))
    files = build_report(Inputs(registry, records, (), ()))
    summary = json.loads(files["summary.json"])
    notes = {(c["id"], r["source"]): r["seeds_note"] for c in summary["claims"] for r in c["results"]}
    assert notes == {("toy/alpha", "smoke"): "seeds 2-3 added after a look", ("toy/beta", "smoke"): None}
    report = files["report.md"].decode()
    assert report.count("seeds 2-3 added after a look") == 1
    assert "- toy/alpha (smoke): seeds 2-3 added after a look." in report
