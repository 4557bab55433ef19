"""The proxy targets (audit/proxy_checks.py): graded arms, seed spread, registered band, overfit regime."""
import json
from pathlib import Path

import pytest

from audit.errors import InputError
from audit.proxy_checks import GRADED, REGIME_GAP_PP, REGIME_TRAIN_MIN, proxy_checks, train_exact_tail
from audit.records import parse_record
from audit.registry import load_registry
from audit.report import generate_report

PROFILE = """
      proxy:
        comparable: false
        seeds: [0, 1, 2]
        band: [20, 60]
        regime: overfit
        model: {hidden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 1, l_cycles: 1, mixer: mlp, pos_encodings: none,
                puzzle_emb_ndim: 16, puzzle_emb_len: 1, halt_max_steps: 2, forward_dtype: float32}
        data: {task: sudoku, source: generated, grid_size: 4, train_size: 32, test_size: 16, num_aug: 2}
        train: {global_batch_size: 8, epochs: 2, eval_interval: 1, lr: 1.0e-3, lr_warmup_steps: 2, ema: true,
                ema_rate: 0.9, eval_raw_weights: true}
"""
CLAIMS = """
claims:
  - id: toy/alpha
    statement: "Model alpha solves 4x4 Sudoku."
    source: {paper: "A toy paper"}
    benchmark: toy-sudoku
    model: TRM-MLP
    metric: exact_accuracy
    protocol: {weights: ema, checkpoint: final, supervision_steps: 2}
    claimed: 90.0
    profiles:""" + PROFILE


def registry_with(tmp_path, claims_text=CLAIMS):
    path = tmp_path / "claims.yaml"
    path.write_text(claims_text)
    return load_registry([path])


def write_run(tmp_path, registry, seed, value, *, token=0.9, raw=None, evaluations=(), train_exact=None):
    """A run record as the runner writes it, with its metrics.csv (train exact per step) beside it."""
    claim = registry.claim("toy/alpha")
    config = claim.profiles["proxy"].config_for(seed)
    final = {"step": 10, "value": value, "correct": value / 100 * 16, "total": 16,
             "metrics": {"exact_accuracy": value / 100, "accuracy": token}}
    data = {"format_version": 1, "claim_id": "toy/alpha", "profile": "proxy", "seed": seed, "status": "completed",
            "error": None, "config": config.to_dict(), "config_hash": config.config_hash(),
            "metric": "exact_accuracy", "final": final, "best": final, "selected": "final",
            "evaluations": [{"step": s, "metrics": {"exact_accuracy": v / 100}} for s, v in evaluations]}
    if raw is not None:
        data["raw_final"] = data["raw_best"] = {"step": 10, "value": raw, "correct": raw / 100 * 16, "total": 16,
                                                "metrics": {"exact_accuracy": raw / 100}}
    directory = tmp_path / "runs" / "toy" / "alpha" / "proxy" / f"seed-{seed}"
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(json.dumps(data))
    if train_exact is not None:
        lines = ["step,split,metric,value"] + [f"{s},train,exact_accuracy,{v}" for s, v in enumerate(train_exact, 1)]
        (directory / "metrics.csv").write_text("\n".join(lines) + "\n")
    return parse_record(data, directory / "run.json")


def test_a_graded_arm_in_its_band_with_a_small_spread_meets_the_targets(tmp_path):
    reg = registry_with(tmp_path)
    records = [write_run(tmp_path, reg, s, v, raw=v - 5, train_exact=[0.95] * 20) for s, v in enumerate((40, 42, 44))]
    (check,) = proxy_checks(reg, records)
    assert (check.n, check.mean, check.graded, check.in_band) == (3, 42.0, True, True)
    assert check.sd == pytest.approx(2.0) and check.sd_ok
    assert check.raw_mean == pytest.approx(37.0) and check.token_accuracy == pytest.approx(90.0)
    assert check.train_exact == pytest.approx(95.0) and check.regime_holds and check.meets_targets


def test_a_saturated_arm_is_not_graded_and_a_wide_spread_misses_the_sd_target(tmp_path):
    reg = registry_with(tmp_path)
    saturated = [write_run(tmp_path / "a", reg, s, v) for s, v in enumerate((99.0, 99.5, 98.5))]
    assert GRADED[1] < 98.5
    (check,) = proxy_checks(reg, saturated)
    assert check.graded is False and check.in_band is False and check.meets_targets is False
    scattered = [write_run(tmp_path / "b", reg, s, v) for s, v in enumerate((10.0, 30.0, 50.0))]
    (check,) = proxy_checks(reg, scattered)
    assert check.graded and check.sd == pytest.approx(20.0) and check.sd_ok is False and not check.meets_targets


def test_the_overfit_regime_needs_solved_training_batches_and_a_far_lower_test(tmp_path):
    reg = registry_with(tmp_path)
    # Train exact just under the floor over the last tenth (earlier steps are ignored).
    under = [write_run(tmp_path / "a", reg, 0, 40.0, train_exact=[1.0] * 18 + [REGIME_TRAIN_MIN / 100 - 0.01] * 2)]
    (check,) = proxy_checks(reg, under)
    assert check.train_exact == pytest.approx(REGIME_TRAIN_MIN - 1) and check.regime_holds is False
    # Training solved, but the test mean is within the gap of it: not the overfit regime.
    close = [write_run(tmp_path / "b", reg, 0, 100 - REGIME_GAP_PP + 1, train_exact=[1.0] * 20)]
    (check,) = proxy_checks(reg, close)
    assert check.regime_holds is False
    # No metrics.csv: the regime cannot be checked, and the check says so (None), not "holds".
    (check,) = proxy_checks(reg, [write_run(tmp_path / "c", reg, 0, 40.0)])
    assert check.train_exact is None and check.regime_holds is None


def test_the_last_evaluations_are_averaged_beside_the_final_value(tmp_path):
    reg = registry_with(tmp_path)
    record = write_run(tmp_path, reg, 0, 50.0, evaluations=[(2, 0.0), (4, 30.0), (6, 40.0), (8, 50.0)])
    (check,) = proxy_checks(reg, [record])
    assert check.last_evals_mean == pytest.approx(40.0)  # the last three: 30, 40, 50


def test_train_exact_tail_reads_only_the_last_tenth_of_the_steps(tmp_path):
    path = tmp_path / "metrics.csv"
    rows = [f"{s},train,exact_accuracy,{0.0 if s <= 90 else 1.0}" for s in range(1, 101)]
    path.write_text("step,split,metric,value\n" + "\n".join(rows + ["100,test,exact_accuracy,0.5"]) + "\n")
    assert train_exact_tail(path) == pytest.approx(100.0)
    assert train_exact_tail(tmp_path / "absent.csv") is None


@pytest.mark.parametrize("band, message", [("[60, 20]", "low < high"), ("[10, 120]", "<= 100"), ("[10]", "[low, high]")])
def test_a_malformed_band_is_refused_naming_file_claim_and_field(tmp_path, band, message):
    with pytest.raises(InputError, match=rf"claims\.yaml: toy/alpha: profiles\.proxy\.band: .*{message}"):
        registry_with(tmp_path, CLAIMS.replace("band: [20, 60]", f"band: {band}"))


def test_a_comparable_profile_cannot_register_a_band(tmp_path):
    text = CLAIMS.replace("comparable: false", "comparable: true").replace("        regime: overfit\n", "")
    with pytest.raises(InputError, match=r"profiles\.proxy\.band: a comparable profile is judged against the claimed"):
        registry_with(tmp_path, text.replace("ema_rate: 0.9, eval_raw_weights: true", "ema_rate: 0.9"))


def test_the_report_opens_with_what_is_decided_and_shows_the_proxy_targets(tmp_path):
    reg = registry_with(tmp_path)
    for s, v in enumerate((40, 42, 44)):
        write_run(tmp_path, reg, s, v, raw=v - 5, train_exact=[0.95] * 20)
    out = tmp_path / "reports"
    generate_report(tmp_path / "runs", [tmp_path / "claims.yaml"], out)
    text = (out / "report.md").read_text()
    assert "**In short.**" in text.split("## 1.")[0]
    (row,) = [line for line in text.splitlines() if line.startswith("| toy/alpha | proxy | 3 (0, 1, 2)")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:8] == ["42.00 ± 2.00", "yes", "yes", "[20.00, 60.00]", "yes"]
    assert cells[-1] == "overfit: yes"
