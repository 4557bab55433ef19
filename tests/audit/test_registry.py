"""The claims registry: the shipped Table-1 claims load, and broken registries fail with one clear line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import InputError
from audit.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "two_claims.yaml"

TABLE_1 = {
    "sudoku-extreme/trm-mlp": (87.4, 5),
    "sudoku-extreme/trm-att": (74.7, 7),
    "sudoku-extreme/hrm": (56.0, 27),
    "maze-hard/trm-att": (85.3, 7),
    "maze-hard/hrm": (74.5, 27),
    "arc-agi-1/trm-att": (44.6, 7),
    "arc-agi-1/hrm": (40.3, 27),
    "arc-agi-1/trm-att-h3l6": (None, 7),
}
ABLATIONS = {  # Table 1's ablations of TRM-MLP on Sudoku-Extreme: claimed, params_m, counted parameters
    "sudoku-extreme/trm-mlp-1step-gradient": (56.5, 5, 5_028_866),
    "sudoku-extreme/trm-mlp-t2-n2": (73.7, 5, 5_028_866),
    "sudoku-extreme/trm-mlp-no-ema": (79.9, 5, 5_028_866),
    "sudoku-extreme/trm-mlp-separate-nets": (82.4, 10, 10_045_442),
    "sudoku-extreme/trm-mlp-4-layers": (79.5, 10, 10_045_442),
    "sudoku-extreme/trm-mlp-act-continue": (86.1, 5, 5_028_866),
}
TABLE_1.update({claim_id: (claimed, params) for claim_id, (claimed, params, _) in ABLATIONS.items()})


def test_shipped_registry_holds_table_1():
    registry = load_registry([ROOT / "claims"])
    got = {c.id: (c.claimed, c.params_m) for c in registry.claims}
    assert got == TABLE_1
    for claim in registry.claims:
        assert set(claim.profiles) >= {"paper", "smoke"}
        assert claim.profiles["paper"].comparable and not claim.profiles["smoke"].comparable
    pairs = {(c.a, c.b) for c in registry.comparisons}
    assert ("arc-agi-1/trm-att-h3l6", "arc-agi-1/trm-att") in pairs
    assert ("sudoku-extreme/trm-mlp", "sudoku-extreme/trm-att") in pairs
    for bench, trm in [("sudoku-extreme", "trm-mlp"), ("sudoku-extreme", "trm-att"), ("maze-hard", "trm-att"),
                       ("arc-agi-1", "trm-att")]:
        assert (f"{bench}/{trm}", f"{bench}/hrm") in pairs


def test_every_shipped_profile_passes_the_trainers_config_check():
    """The registry resolves each profile's base setup; the result meets every rule trm checks."""
    from trm.config import check

    registry = load_registry([ROOT / "claims"])
    resolved = [(claim.id, name, profile.config) for claim in registry.claims for name, profile in claim.profiles.items()]
    assert len(resolved) >= 16
    for _, _, config in resolved:
        check(config)


def test_hrm_sudoku_records_the_other_published_value():
    claim = load_registry([ROOT / "claims"]).claim("sudoku-extreme/hrm")
    assert claim.claimed == 56.0
    assert [o.value for o in claim.other_values] == [55.0]


def test_paper_profiles_follow_the_official_commands():
    registry = load_registry([ROOT / "claims"])
    mlp = registry.claim("sudoku-extreme/trm-mlp").profiles["paper"]
    assert (mlp.model.h_cycles, mlp.model.l_cycles, mlp.model.mixer) == (3, 6, "mlp")
    assert (mlp.train.global_batch_size, mlp.train.lr, mlp.train.epochs, mlp.train.lr_min_ratio) == (768, 1e-4, 50000, 1.0)
    arc = registry.claim("arc-agi-1/trm-att").profiles["paper"]
    assert (arc.model.l_cycles, arc.train.puzzle_emb_lr, arc.train.weight_decay, arc.train.epochs) == (4, 1e-2, 0.1, 100000)
    hrm = registry.claim("maze-hard/hrm").profiles["paper"]
    assert (hrm.model.arch, hrm.model.act_continue, hrm.train.ema, hrm.model.prefix_len) == ("hrm", True, False, 1)


def test_claims_json_lists_every_claim_and_comparison():
    result = CliRunner().invoke(cli, ["claims", str(ROOT / "claims"), "--json", "--no-count"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert {c["id"]: c["claimed"] for c in listing["claims"]} == {k: v[0] for k, v in TABLE_1.items()}
    assert len(listing["comparisons"]) == 6 + len(ABLATIONS)


# (description, text edit applied to the fixture, expected fragment naming the place and the problem)
BROKEN = [
    ("lr not a number", ("lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id", "lr: fast, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id"),
     "toy/alpha: profiles.smoke.train.lr: expected a positive number, got 'fast'"),
    ("negative lr", ("lr: 1.0e-3, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id", "lr: -0.1, lr_warmup_steps: 2, ema: true, ema_rate: 0.9}\n  - id"),
     "toy/alpha: profiles.smoke.train.lr: expected a positive number, got -0.1"),
    ("zero H_cycles", ("h_cycles: 2, l_cycles: 2", "h_cycles: 0, l_cycles: 2"),
     "toy/alpha: profiles.paper.model.h_cycles: expected a positive number, got 0"),
    ("unknown claim key", ("    claimed: 90.0\n", "    claimed: 90.0\n    claimd: 91\n"), "toy/alpha: claimd: unknown key"),
    ("unknown model key", ("model: {hidden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 2", "model: {hiden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 2"),
     "toy/alpha: profiles.paper.model.hiden_size: unknown key"),
    ("missing metric", ("    metric: exact_accuracy\n    protocol: {weights: ema", "    protocol: {weights: ema"),
     "toy/alpha: metric: missing required key"),
    ("missing claimed", ("    claimed: 80.0\n", ""), "toy/beta: claimed: missing required key"),
    ("claimed not a number", ("claimed: 90.0", "claimed: high"), "toy/alpha: claimed: expected a percentage between 0 and 100, got 'high'"),
    ("claimed above 100", ("claimed: 90.0", "claimed: 190.0"), "toy/alpha: claimed: expected a percentage between 0 and 100, got 190.0"),
    ("duplicate claim id", ("id: toy/beta", "id: toy/alpha"), "toy/alpha: id: duplicate claim id"),
    ("dangling comparison", ("    b: toy/beta\n", "    b: toy/gamma\n"), "toy/alpha-vs-beta: b: names unknown claim 'toy/gamma'"),
    ("YAML syntax error", ("    benchmark: toy-sudoku\n    model: TRM-MLP", "    benchmark: [toy-sudoku\n    model: TRM-MLP"), "YAML syntax error"),
    ("duplicate YAML key", ("    model: TRM-MLP\n", "    model: TRM-MLP\n    model: TRM-Att\n"), "duplicate key 'model'"),
    ("unknown metric", ("metric: exact_accuracy\n    protocol: {weights: ema", "metric: top5\n    protocol: {weights: ema"),
     "toy/alpha: metric: expected one of 'exact_accuracy', 'pass@1', 'pass@2', got 'top5'"),
    ("profile without comparable", ("      smoke:\n        comparable: false\n        deviations", "      smoke:\n        deviations"),
     "toy/alpha: profiles.smoke.comparable: missing required key"),
    ("negative tolerance", ("    claimed: 90.0\n", "    claimed: 90.0\n    tolerance_pp: -1\n"), "toy/alpha: tolerance_pp: expected a number >= 0, got -1"),
    ("id escaping the runs directory", ("id: toy/beta", "id: ../../etc"), "id: expected lower-case words joined by"),
    ("heads do not divide width", ("hidden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 2", "hidden_size: 16, num_heads: 3, l_layers: 1, h_cycles: 2"),
     "toy/alpha: profiles.paper.model.num_heads: must divide hidden_size 16, got 3"),
    ("comparable profile evaluating other weights", ("ema: true, ema_rate: 0.9}\n      smoke", "ema: false, ema_rate: 0.9}\n      smoke"),
     "toy/alpha: profiles.paper.train.ema: the claim's protocol evaluates 'ema' weights, got ema=False"),
    ("pass@2 on Sudoku", ("metric: exact_accuracy\n    protocol: {weights: raw", "metric: pass@2\n    protocol: {weights: raw"),
     "toy/beta: profiles.smoke.data.task: task 'sudoku' cannot measure 'pass@2'"),
    ("eval interval not dividing epochs", ("epochs: 4, eval_interval: 2", "epochs: 4, eval_interval: 3"),
     "toy/alpha: profiles.paper.train.eval_interval: must divide epochs 4, got 3"),
    ("wrong type for comparable", ("comparable: true", "comparable: yes please"), "toy/alpha: profiles.paper.comparable: expected true or false"),
]


@pytest.mark.parametrize("description, edit, expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_registry_fails_with_one_line(tmp_path, description, edit, expected):
    text = FIXTURE.read_text()
    old, new = edit
    assert old in text, f"fixture edit for {description!r} no longer applies"
    path = tmp_path / "claims.yaml"
    path.write_text(text.replace(old, new, 1))
    result = CliRunner().invoke(cli, ["claims", str(path), "--no-count"])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"Error: {path}:"), message
    assert expected in message, message


@pytest.mark.parametrize("content, expected", [
    (b"", "file is empty"),
    (b"claims:\n  - id: x\n    statement: \xff\xfe\n", "not UTF-8"),
    (b"- just a list\n", "expected a mapping"),
    (b"a: &a [1,1,1,1,1,1,1,1,1]\n" + b"".join(b"b%d: &b%d [*%s,*%s,*%s,*%s]\n" % (i, i, *(b"a" if i == 0 else b"b%d" % (i - 1),) * 4) for i in range(60)), "aliases"),
], ids=["empty", "non-utf8", "not-a-mapping", "alias-bomb"])
def test_unreadable_files_fail_with_one_line(tmp_path, content, expected):
    path = tmp_path / "claims.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["claims", str(path), "--no-count"])
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_duplicate_ids_across_files(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(FIXTURE.read_text())
    with pytest.raises(InputError, match="b.yaml: toy/alpha: id: duplicate claim id"):
        load_registry([tmp_path])


def test_missing_path_is_bad_input():
    result = CliRunner().invoke(cli, ["claims", "no/such/file.yaml", "--no-count"])
    assert result.exit_code == 2 and "no such claims file" in result.output


def test_claims_json_counts_the_paper_models_parameters():
    from audit.listing import list_claims

    listing = list_claims(load_registry([ROOT / "claims"]))
    counted = {c["id"]: c["params_counted"] for c in listing["claims"]}
    assert counted == {  # docs/model-spec.md §5.3, counted on the meta device
        "sudoku-extreme/trm-mlp": 5_028_866, "sudoku-extreme/trm-att": 6_828_034, "maze-hard/trm-att": 6_822_914,
        "arc-agi-1/trm-att": 6_829_058, "arc-agi-1/trm-att-h3l6": 6_829_058, "sudoku-extreme/hrm": 27_275_266,
        "maze-hard/hrm": 27_270_146, "arc-agi-1/hrm": 27_276_290,
        **{claim_id: counted for claim_id, (_, _, counted) in ABLATIONS.items()},
    }


def test_ablations_change_one_thing_of_the_full_model_and_compare_with_it():
    """Each ablation's paper profile is TRM-MLP's with the change it names; each is compared with the
    full model (full > ablation; the ACT continue loss as an equivalence)."""
    from dataclasses import asdict

    registry = load_registry([ROOT / "claims"])
    full = asdict(registry.claim("sudoku-extreme/trm-mlp").profiles["paper"].config)
    changed = {}
    for claim_id in ABLATIONS:
        config = asdict(registry.claim(claim_id).profiles["paper"].config)
        changed[claim_id] = {f"{section}.{key}": value for section in ("model", "data", "train")
                             for key, value in config[section].items() if full[section][key] != value}
    assert changed == {
        "sudoku-extreme/trm-mlp-1step-gradient": {"model.one_step_gradient": True},
        "sudoku-extreme/trm-mlp-t2-n2": {"model.h_cycles": 2, "model.l_cycles": 2},
        "sudoku-extreme/trm-mlp-no-ema": {},
        "sudoku-extreme/trm-mlp-separate-nets": {"model.separate_nets": True, "model.h_layers": 2},
        "sudoku-extreme/trm-mlp-4-layers": {"model.l_layers": 4, "model.l_cycles": 3},
        "sudoku-extreme/trm-mlp-act-continue": {"model.act_continue": True},
    }
    assert full["train"]["eval_raw_weights"] and full["train"]["ema"]
    no_ema = registry.claim("sudoku-extreme/trm-mlp-no-ema")
    assert (no_ema.runs_of, no_ema.protocol.weights) == ("sudoku-extreme/trm-mlp", "raw")
    compared = {c.b: (c.a, c.alternative, c.margin_pp) for c in registry.comparisons}
    for claim_id in ABLATIONS:
        expected = ("equivalent", 2.0) if claim_id.endswith("act-continue") else ("greater", None)
        assert compared[claim_id] == ("sudoku-extreme/trm-mlp", *expected), claim_id


def test_claims_scored_from_other_runs_are_not_planned():
    from audit.plan import expand_plan

    registry = load_registry([ROOT / "claims"])
    planned = {spec.claim.id for spec in expand_plan(registry, profile="smoke", seeds=[0], runs_dir=Path("runs"))}
    assert "sudoku-extreme/trm-mlp" in planned and "sudoku-extreme/trm-mlp-no-ema" not in planned
    assert set(ABLATIONS) - {"sudoku-extreme/trm-mlp-no-ema"} <= planned


RUNS_OF = """  - id: toy/gamma
    statement: "Toy TRM without EMA."
    source: {paper: "Toy paper"}
    benchmark: toy-sudoku
    model: TRM-MLP
    metric: exact_accuracy
    protocol: {weights: raw}
    claimed: 70.0
    runs_of: RUNS_OF
    profiles:
      PROFILES
"""


@pytest.mark.parametrize("runs_of, profiles, expected", [
    ("toy/delta", "smoke: {base: toy-smoke}", "toy/gamma: runs_of: names unknown claim 'toy/delta'"),
    ("toy/gamma", "smoke: {base: toy-smoke}", "toy/gamma: runs_of: 'toy/gamma' must train its own runs"),
    ("toy/alpha", "other: {base: toy-smoke}", "toy/gamma: profiles.other: must be toy/alpha's profile 'other'"),
    ("toy/alpha", "smoke: {base: toy-smoke, train: {lr: 0.5}}", "toy/gamma: profiles.smoke: must be toy/alpha's profile 'smoke' (same config)"),
], ids=["unknown", "itself", "missing-profile", "other-config"])
def test_runs_of_names_a_claim_whose_profiles_it_shares(tmp_path, runs_of, profiles, expected):
    alpha_smoke = load_registry([FIXTURE]).claim("toy/alpha").profiles["smoke"]
    setups = {"setups": {"toy-smoke": {"comparable": False, "model": _section(alpha_smoke.model),
                                       "data": _section(alpha_smoke.data), "train": _section(alpha_smoke.train)}}}
    (tmp_path / "setups.yaml").write_text(yaml.safe_dump(setups))
    text = FIXTURE.read_text().replace("comparisons:", RUNS_OF.replace("RUNS_OF", runs_of).replace(
        "PROFILES", profiles) + "comparisons:", 1)
    (tmp_path / "claims.yaml").write_text(text)
    with pytest.raises(InputError) as err:
        load_registry([tmp_path / "claims.yaml"])
    assert expected in str(err.value)


def _section(config) -> dict:
    from dataclasses import asdict

    return asdict(config)


@pytest.mark.parametrize("extra, expected", [
    ("    alternative: equivalent\n", "toy/alpha-vs-beta: margin_pp: an equivalence needs its margin"),
    ("    margin_pp: 2.0\n", "toy/alpha-vs-beta: margin_pp: an equivalence needs its margin and only an equivalence"),
])
def test_equivalence_comparisons_carry_their_margin(tmp_path, extra, expected):
    text = FIXTURE.read_text()
    old = "    b: toy/beta\n"
    assert old in text
    (tmp_path / "claims.yaml").write_text(text.replace(old, old + extra, 1))
    with pytest.raises(InputError, match=expected):
        load_registry([tmp_path / "claims.yaml"])


def test_a_raw_claim_on_ema_runs_needs_them_to_score_raw_weights(tmp_path):
    text = FIXTURE.read_text()
    old = "ema: true, ema_rate: 0.9}\n      smoke"
    assert old in text
    (tmp_path / "claims.yaml").write_text(text.replace("protocol: {weights: ema", "protocol: {weights: raw", 1))
    with pytest.raises(InputError, match="toy/alpha: profiles.paper.train.ema: the claim's protocol evaluates 'raw' weights"):
        load_registry([tmp_path / "claims.yaml"])
    (tmp_path / "claims.yaml").write_text(text.replace("protocol: {weights: ema", "protocol: {weights: raw", 1).replace(
        old, "ema: true, ema_rate: 0.9, eval_raw_weights: true}\n      smoke", 1))
    assert load_registry([tmp_path / "claims.yaml"]).claim("toy/alpha").protocol.weights == "raw"
