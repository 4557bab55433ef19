"""audit.aggregate and audit.sources: records and external results -> results, verdicts, comparisons, summary."""
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from audit import stats
from audit.aggregate import build_summary, write_summary
from audit.summary import ClaimSummary, SourceResult, Summary
from audit.external import ExternalResult, ExternalResultSet, ExternalSource, load_external, load_externals
from audit.records import parse_record
from audit.registry import Registry, load_registry
from audit.sources import collect_sources

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]

RESULT_KEYS = {"source", "comparable", "n", "values", "mean", "sd", "se", "ci95", "d", "p_below_claim",
               "p_above_claim", "p_adjusted", "verdict", "failed", "stale", "runs"}
RUN_KEYS = {"seed", "value", "correct", "total", "wilson95"}
COMPARISON_KEYS = {"id", "a", "b", "source", "diff", "z", "p_z", "t", "df", "p_welch"}


@pytest.fixture(scope="module")
def registry():
    return load_registry([DATA / "two_claims.yaml"])


def record(registry, claim_id, profile, seed, value=None, total=100, status="completed", config_hash=None):
    """A run record as the runner writes it (run.json parsed by audit.records)."""
    claim = registry.claim(claim_id)
    config = claim.profiles[profile].config_for(seed)
    final = None
    if value is not None:
        final = {"step": 10, "value": value, "correct": value / 100 * total, "total": total, "metrics": {}}
    resolved = config.to_dict()
    if config_hash is not None:  # a stale record: made with another config than the profile's
        resolved["train"]["lr"] *= 2
    data = {"format_version": 1, "claim_id": claim_id, "profile": profile, "seed": seed, "status": status,
            "error": "diverged" if status == "failed" else None, "config": resolved,
            "config_hash": config_hash or config.config_hash(), "metric": claim.metric, "final": final,
            "best": final, "selected": "final"}
    return parse_record(data, Path("runs") / claim_id / profile / f"seed-{seed}" / "run.json")


def external_set(tmp_path, name, body):
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    return load_external(path)


def summary_json(*args, **kwargs) -> dict:
    """build_summary as summary.json holds it: these tests check the file's contract, key by key."""
    return build_summary(*args, **kwargs).to_dict()


def results_of_list(summary, claim_id):
    (claim,) = [c for c in summary["claims"] if c["id"] == claim_id]
    return claim["results"]


def results_of(summary, claim_id):
    (claim,) = [c for c in summary["claims"] if c["id"] == claim_id]
    return {r["source"]: r for r in claim["results"]}


# --- per (claim, source) -----------------------------------------------------------------------


def test_paper_profile_statistics_and_contract_fields(registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.0, 90.0, 92.0])]
    summary = summary_json(registry, records, [])
    result = results_of(summary, "toy/alpha")["paper"]
    assert RESULT_KEYS <= set(result)
    assert result["n"] == 3 and result["values"] == [88.0, 90.0, 92.0]
    assert result["mean"] == 90.0 and result["sd"] == pytest.approx(2.0)
    assert result["se"] == pytest.approx(2 / math.sqrt(3))
    low, high = sps.t.interval(0.95, 2, loc=90.0, scale=2 / math.sqrt(3))
    assert result["ci95"] == pytest.approx([low, high])
    assert result["d"] == 0.0 and result["verdict"] == stats.REPRODUCED
    assert result["p_below_claim"] == pytest.approx(0.5) and result["p_above_claim"] == pytest.approx(0.5)
    assert result["comparable"] is True and result["failed"] == 0 and result["stale"] == 0
    run = result["runs"][0]
    assert set(run) >= RUN_KEYS and run["seed"] == 0 and run["total"] == 100
    ci = sps.binomtest(88, 100).proportion_ci(0.95, method="wilson")
    assert run["wilson95"] == pytest.approx([100 * ci.low, 100 * ci.high])


def test_failed_and_stale_runs_are_counted_not_averaged(registry):
    records = [record(registry, "toy/alpha", "paper", 0, 88.0), record(registry, "toy/alpha", "paper", 1, 92.0),
               record(registry, "toy/alpha", "paper", 2, status="failed"),
               record(registry, "toy/alpha", "paper", 3, 10.0, config_hash="0123456789abcdef")]
    result = results_of(summary_json(registry, records, []), "toy/alpha")["paper"]
    assert result["n"] == 2 and result["values"] == [88.0, 92.0] and result["mean"] == 90.0
    assert result["failed"] == 1 and result["stale"] == 1
    assert [(e["seed"], e["status"]) for e in result["excluded"]] == [(2, "failed"), (3, "stale")]
    assert result["excluded"][0]["reason"] == "diverged" and result["excluded"][1]["value"] == 10.0
    assert [run["seed"] for run in result["runs"]] == [0, 1]


def test_only_failed_runs_is_inconclusive_with_nothing_averaged(registry):
    records = [record(registry, "toy/alpha", "paper", k, status="failed") for k in range(2)]
    result = results_of(summary_json(registry, records, []), "toy/alpha")["paper"]
    assert (result["n"], result["mean"], result["failed"], result["verdict"]) == (0, None, 2, stats.INCONCLUSIVE)


def test_stale_means_the_profile_config_changed(registry):
    rec = record(registry, "toy/alpha", "paper", 0, 90.0)
    claim = registry.claim("toy/alpha")
    changed = replace(claim.profiles["paper"], train=replace(claim.profiles["paper"].train, lr=5e-4))
    new_claim = replace(claim, profiles={**claim.profiles, "paper": changed})
    new_registry = Registry((new_claim,) + registry.claims[1:], registry.comparisons)
    result = results_of(summary_json(new_registry, [rec], []), "toy/alpha")["paper"]
    assert (result["n"], result["stale"]) == (0, 1)


def test_single_run_has_no_spread_and_no_test(registry):
    result = results_of(summary_json(registry, [record(registry, "toy/alpha", "paper", 0, 80.0)], []),
                        "toy/alpha")["paper"]
    assert (result["n"], result["sd"], result["se"], result["ci95"]) == (1, None, None, None)
    assert (result["p_below_claim"], result["p_adjusted"]) == (None, None)
    assert result["verdict"] == stats.INCONCLUSIVE and result["runs"][0]["wilson95"] is not None


def test_proxy_profile_is_not_comparable(registry):
    records = [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate([30.0, 31.0])]
    result = results_of(summary_json(registry, records, []), "toy/beta")["smoke"]
    assert result["verdict"] == stats.NOT_COMPARABLE and result["comparable"] is False
    assert result["mean"] == 30.5 and result["p_below_claim"] is not None  # numbers shown, not judged
    assert result["p_adjusted"] is None


def test_claim_without_a_claimed_value_gets_no_claim(registry):
    claims = (registry.claims[0], replace(registry.claims[1], claimed=None))
    reg = Registry(claims, registry.comparisons)
    records = [record(reg, "toy/beta", "smoke", k, v) for k, v in enumerate([30.0, 31.0])]
    ext = external_set_from_values("toy/beta", [50.0, 52.0])
    result = results_of(summary_json(reg, records, [ext]), "toy/beta")
    assert result["ext"]["verdict"] == stats.NO_CLAIM and result["ext"]["d"] is None
    assert result["ext"]["mean"] == 51.0 and result["ext"]["p_below_claim"] is None
    assert result["smoke"]["verdict"] == stats.NOT_COMPARABLE


def external_set_from_values(claim_id, values, comparable=True):
    """A comparable result set 'ext' with per-seed values for one claim."""
    result = ExternalResult(claim=claim_id, values=tuple(values))
    return ExternalResultSet(source=ExternalSource(title="t"), comparable=comparable, results=(result,), id="ext")


def test_holm_across_the_report_changes_verdicts(registry):
    """Two shortfalls, each p_below = 0.037 alone (NOT_REPRODUCED), 0.074 after Holm (INCONCLUSIVE)."""
    alpha_records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([84.0, 86.0, 88.0])]
    p_alone = sps.ttest_1samp([84.0, 86.0, 88.0], 90.0, alternative="less").pvalue
    assert 0.025 < p_alone < 0.05
    alone = results_of(summary_json(registry, alpha_records, []), "toy/alpha")["paper"]
    assert alone["p_adjusted"] == pytest.approx(p_alone) and alone["verdict"] == stats.NOT_REPRODUCED
    ext = external_set_from_values("toy/beta", [74.0, 76.0, 78.0])
    summary = summary_json(registry, alpha_records, [ext])
    a, b = results_of(summary, "toy/alpha")["paper"], results_of(summary, "toy/beta")["ext"]
    assert b["p_below_claim"] == pytest.approx(p_alone)
    assert a["p_adjusted"] == pytest.approx(2 * p_alone) and b["p_adjusted"] == pytest.approx(2 * p_alone)
    assert a["verdict"] == b["verdict"] == stats.INCONCLUSIVE
    assert "Holm" in a["reason"]


def test_holm_family_includes_results_within_tolerance(registry):
    """A REPRODUCED result still contributes its directional p (p_above here, since d > 0)."""
    alpha_records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([84.0, 86.0, 88.0])]
    ext = external_set_from_values("toy/beta", [80.5, 81.0])
    summary = summary_json(registry, alpha_records, [ext])
    b = results_of(summary, "toy/beta")["ext"]
    p_b = sps.ttest_1samp([80.5, 81.0], 80.0, alternative="greater").pvalue
    p_a = sps.ttest_1samp([84.0, 86.0, 88.0], 90.0, alternative="less").pvalue
    assert b["verdict"] == stats.REPRODUCED
    assert b["p_adjusted"] == pytest.approx(stats.holm_adjust([p_a, p_b])[1])


def test_unknown_claim_in_records_is_a_problem(registry):
    rec = record(registry, "toy/alpha", "paper", 0, 90.0)
    stray = replace(rec, claim_id="toy/gone")
    summary = summary_json(registry, [rec, stray], [], problems=["runs/x/run.json: torn"])
    assert summary["problems"][0] == "runs/x/run.json: torn"
    assert "toy/gone" in summary["problems"][1]


def test_sources_keep_registry_order_then_externals(registry):
    records = [record(registry, "toy/alpha", p, 0, 50.0) for p in ("smoke", "paper")]
    sources, problems = collect_sources(registry, records, [external_set_from_values("toy/alpha", [1.0])])
    assert [(s.claim_id, s.source) for s in sources] == [("toy/alpha", "paper"), ("toy/alpha", "smoke"),
                                                         ("toy/alpha", "ext")]
    assert problems == []


# --- comparisons -------------------------------------------------------------------------------


def test_comparison_from_raw_values_on_a_shared_proxy_source(registry):
    a_vals, b_vals = [60.0, 64.0, 62.0], [50.0, 55.0]
    records = ([record(registry, "toy/alpha", "smoke", k, v) for k, v in enumerate(a_vals)]
               + [record(registry, "toy/beta", "smoke", k, v) for k, v in enumerate(b_vals)]
               + [record(registry, "toy/alpha", "paper", 0, 90.0)])  # paper exists on one arm only
    (row,) = summary_json(registry, records, [])["comparisons"]
    assert COMPARISON_KEYS <= set(row)
    assert (row["id"], row["a"], row["b"], row["source"]) == ("toy/alpha-vs-beta", "toy/alpha", "toy/beta", "smoke")
    assert row["proxy"] is True and row["comparable"] is False and row["method"] == "raw"
    welch = sps.ttest_ind(a_vals, b_vals, equal_var=False, alternative="greater")
    assert row["diff"] == pytest.approx(np.mean(a_vals) - np.mean(b_vals))
    assert row["t"] == pytest.approx(welch.statistic) and row["p_welch"] == pytest.approx(welch.pvalue)
    assert row["df"] == pytest.approx(welch.df) and row["p_z"] == pytest.approx(sps.norm.sf(row["z"]))
    assert row["proportion_test"] is None and row["readings"] is None


def test_comparison_of_single_runs_uses_counts_only(registry):
    records = [record(registry, "toy/alpha", "smoke", 0, 60.0, total=200),
               record(registry, "toy/beta", "smoke", 0, 50.0, total=200)]
    (row,) = summary_json(registry, records, [])["comparisons"]
    assert row["diff"] == pytest.approx(10.0)
    assert (row["z"], row["p_z"], row["t"], row["df"], row["p_welch"]) == (None,) * 5
    prop = row["proportion_test"]
    assert prop["z"] == pytest.approx(stats.two_proportion_test(120, 200, 100, 200).z)
    assert "test-set" in prop["note"]


def test_comparison_from_published_summaries(tmp_path, registry):
    ext = external_set(tmp_path, "pub", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, pm_kind: sd, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0, pm_kind: se, n_seeds: 3}
""")
    summary = summary_json(registry, [], [ext])
    alpha = results_of(summary, "toy/alpha")["pub"]
    assert (alpha["n"], alpha["sd"], alpha["se"]) == (4, 2.0, 1.0) and alpha["values"] == []
    beta = results_of(summary, "toy/beta")["pub"]
    assert beta["sd"] == pytest.approx(math.sqrt(3)) and beta["se"] == pytest.approx(1.0)
    (row,) = summary["comparisons"]
    ref = sps.ttest_ind_from_stats(62.0, 2.0, 4, 55.0, math.sqrt(3), 3, equal_var=False, alternative="greater")
    assert row["t"] == pytest.approx(ref.statistic) and row["df"] == pytest.approx(4.8)  # 2^2 / (1/3 + 1/2)
    assert row["method"] == "summary" and row["comparable"] is True
    assert row["z"] == pytest.approx(7.0 / math.sqrt(2.0)) and row["p_welch"] == pytest.approx(ref.pvalue)


# --- the published reproduction (runs/external/alphaxiv-2025.yaml) -----------------------------


@pytest.fixture(scope="module")
def real_summary():
    reg = load_registry([ROOT / "claims"])
    externals = load_externals(ROOT / "runs" / "external", [c.id for c in reg.claims])
    return summary_json(reg, [], externals)


def test_h3l6_vs_h3l4_under_each_reading(real_summary):
    """52.75 ± 3.09 vs 43.00 ± 0.16 (ARC-AGI-1 pass@2): the reproduction's one-tailed z-test p < 0.005."""
    (row,) = [r for r in real_summary["comparisons"]
              if r["id"] == "arc-agi-1/h3l6-vs-h3l4" and r["source"] == "alphaxiv-2025"]
    assert row["diff"] == pytest.approx(9.75)
    assert (row["z"], row["p_welch"]) == (None, None)  # the ± is undefined: no single answer
    by = {(r["reading"], r["n"]): r for r in row["readings"]}
    # ± read as SEs: z = 9.75 / sqrt(3.09^2 + 0.16^2) = 3.151, p = 0.0008 < 0.005, whatever n
    z_se = 9.75 / math.hypot(3.09, 0.16)
    for n in (2, 3, 5):
        assert by[("se", n)]["z"] == pytest.approx(z_se) and by[("se", n)]["p_z"] < 0.005
        ref = sps.ttest_ind_from_stats(52.75, 3.09 * math.sqrt(n), n, 43.0, 0.16 * math.sqrt(n), n,
                                       equal_var=False, alternative="greater")
        assert by[("se", n)]["p_welch"] == pytest.approx(ref.pvalue)
    assert by[("se", 2)]["p_z"] == pytest.approx(sps.norm.sf(z_se))
    # ...but Welch's test with two seeds per arm is far from significant
    assert by[("se", 2)]["p_welch"] > 0.05
    # ± read as SDs over n seeds
    ref = sps.ttest_ind_from_stats(52.75, 3.09, 3, 43.0, 0.16, 3, equal_var=False, alternative="greater")
    assert by[("sd", 3)]["t"] == pytest.approx(ref.statistic) and by[("sd", 3)]["p_welch"] == pytest.approx(ref.pvalue)
    # ± read as Student-t 95% half-widths: SE = ± / t_{0.975, n-1}
    t3 = sps.t.ppf(0.975, 2)
    assert by[("ci95", 3)]["z"] == pytest.approx(9.75 / math.hypot(3.09 / t3, 0.16 / t3))
    # ± read as single-run Wilson half-widths: one evaluation each over 400 tasks
    wilson = by[("wilson95", 1)]
    assert wilson["z"] == pytest.approx(stats.two_proportion_test(211, 400, 172, 400).z)
    assert wilson["t"] is None and "test-set" in wilson["note"]


def test_readings_find_the_wilson_half_widths(real_summary):
    """Sudoku's ±0.12-0.14 are single-run Wilson half-widths at its 422,786 test puzzles; ARC's are not at 400."""
    for claim_id, source in [("sudoku-extreme/trm-att", "alphaxiv-2025 (50k epochs)"),
                             ("sudoku-extreme/trm-att", "alphaxiv-2025 (60k epochs)"),
                             ("sudoku-extreme/trm-mlp", "alphaxiv-2025 (50k epochs)"),
                             ("sudoku-extreme/trm-mlp", "alphaxiv-2025 (60k epochs)")]:
        wilson = results_of(real_summary, claim_id)[source]["readings"][-1]
        assert wilson["reading"] == "wilson95" and wilson["consistent"] is True
        low, high = wilson["test_size_range"]
        assert low <= 422_786 <= high and low <= 423_000 <= high
    att50 = results_of(real_summary, "sudoku-extreme/trm-att")["alphaxiv-2025 (50k epochs)"]["readings"][-1]
    assert att50["predicted_pm"] == pytest.approx(0.1385, abs=1e-4)
    arc = results_of(real_summary, "arc-agi-1/trm-att")["alphaxiv-2025"]["readings"][-1]
    assert arc["consistent"] is False and arc["predicted_pm"] == pytest.approx(4.83, abs=0.01)
    h3l6 = results_of(real_summary, "arc-agi-1/trm-att-h3l6")["alphaxiv-2025"]["readings"][-1]
    assert 996 <= h3l6["test_size_solved"] <= 1002  # ±3.09 fits one evaluation of ~1000 items, not 400
    maze = results_of(real_summary, "maze-hard/trm-att")["alphaxiv-2025"]["readings"][-1]
    assert maze["consistent"] is False and round(maze["predicted_pm"], 2) == 2.29
    assert maze["test_size_range"] == [1005, 1013]


def test_published_results_verdicts(real_summary):
    maze = results_of(real_summary, "maze-hard/trm-att")["alphaxiv-2025"]
    assert maze["verdict"] == stats.REPRODUCED and maze["d"] == pytest.approx(-1.63)
    att50 = results_of(real_summary, "sudoku-extreme/trm-att")["alphaxiv-2025 (50k epochs)"]
    assert att50["verdict"] == stats.INCONCLUSIVE and att50["n"] is None and att50["d"] == pytest.approx(-5.01)
    assert results_of(real_summary, "arc-agi-1/trm-att-h3l6")["alphaxiv-2025"]["verdict"] == stats.NO_CLAIM
    sd_rows = [r for r in maze["readings"] if r["reading"] == "sd"]
    assert [r["n"] for r in sd_rows] == [2, 3, 5] and all(r["n_assumed"] for r in sd_rows)
    assert sd_rows[1]["se"] == pytest.approx(2.28 / math.sqrt(3))


# --- the summary file --------------------------------------------------------------------------


def test_summary_is_byte_stable_and_strict_json(tmp_path, registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.1, 90.3, 91.7])]
    text = build_summary(registry, records, []).to_json()
    assert text == build_summary(registry, list(reversed(records)), []).to_json()
    path = write_summary(build_summary(registry, records, []), tmp_path / "reports" / "summary.json")
    assert path.read_text() == text and text.endswith("\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["claims"][0]["results"][0]["values"] == [88.1, 90.3, 91.7]  # full precision
    assert json.loads(build_summary(registry, records, []).to_json()) == summary_json(registry, records, [])
    assert not list((tmp_path / "reports").glob("*.tmp"))


def test_the_summary_is_typed_and_its_json_is_its_fields(registry):
    records = [record(registry, "toy/alpha", "paper", k, v) for k, v in enumerate([88.0, 90.0, 92.0])]
    summary = build_summary(registry, records, [])
    assert isinstance(summary, Summary) and all(isinstance(c, ClaimSummary) for c in summary.claims)
    (result,) = summary.claims[0].results
    assert isinstance(result, SourceResult) and result.values == (88.0, 90.0, 92.0) and result.n == 3
    assert result.verdict == stats.REPRODUCED and result.runs[0].seed == 0
    data = json.loads(summary.to_json())
    assert data["claims"][0]["results"][0]["mean"] == result.mean == 90.0
    assert data["settings"]["assumed_seeds"] == list(summary.settings.assumed_seeds)


def test_published_summaries_of_every_kind(tmp_path, registry):
    ext = external_set(tmp_path, "kinds", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, label: ci, mean: 88.0, pm: 4.302652729749464, pm_kind: ci95, n_seeds: 3}
  - {claim: toy/alpha, label: sd-no-n, mean: 88.0, pm: 2.0, pm_kind: sd}
  - {claim: toy/alpha, label: wilson, mean: 88.0, pm: 6.4, pm_kind: wilson95, test_size: 100}
  - {claim: toy/beta, label: wilson, mean: 80.0, pm: 7.8, pm_kind: wilson95, test_size: 100}
""")
    summary = summary_json(registry, [], [ext])
    res = results_of(summary, "toy/alpha")
    ci = res["kinds (ci)"]  # t_{0.975, 2} * SE = 4.3027 -> SE 1, SD sqrt(3)
    assert ci["se"] == pytest.approx(1.0) and ci["sd"] == pytest.approx(math.sqrt(3))
    assert ci["ci95"] == pytest.approx([88.0 - 4.302652729749464, 88.0 + 4.302652729749464])
    assert ci["p_below_claim"] == pytest.approx(sps.t.cdf(-2.0, 2))
    no_n = res["kinds (sd-no-n)"]
    assert (no_n["n"], no_n["sd"], no_n["se"], no_n["p_below_claim"]) == (None, 2.0, None, None)
    wilson = res["kinds (wilson)"]
    assert wilson["n"] == 1 and wilson["readings"] is None
    ref = sps.binomtest(88, 100).proportion_ci(0.95, method="wilson")
    assert wilson["runs"][0]["wilson95"] == pytest.approx([100 * ref.low, 100 * ref.high])
    (row,) = [r for r in summary["comparisons"] if r["source"] == "kinds (wilson)"]
    assert row["proportion_test"]["z"] == pytest.approx(stats.two_proportion_test(88, 100, 80, 100).z)
    assert row["z"] is None and row["readings"] is None


def test_readings_use_a_stated_run_count(tmp_path, registry):
    ext = external_set(tmp_path, "mixed", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0}
""")
    (row,) = summary_json(registry, [], [ext])["comparisons"]
    se_rows = [r for r in row["readings"] if r["reading"] == "se"]
    assert [(r["n"], r["n_a"], r["n_b"]) for r in se_rows] == [(2, 4, 2), (3, 4, 3), (5, 4, 5)]
    ref = sps.ttest_ind_from_stats(62.0, 2.0 * 2, 4, 55.0, 1.0 * math.sqrt(3), 3, equal_var=False,
                                   alternative="greater")
    assert se_rows[1]["p_welch"] == pytest.approx(ref.pvalue)
    stated = external_set(tmp_path, "stated", """
source: {title: A paper}
comparable: true
results:
  - {claim: toy/alpha, mean: 62.0, pm: 2.0, n_seeds: 4}
  - {claim: toy/beta, mean: 55.0, pm: 1.0, n_seeds: 3}
""")
    (row,) = summary_json(registry, [], [stated])["comparisons"]
    assert [(r["reading"], r["n"], r["n_a"], r["n_b"]) for r in row["readings"]] == [
        ("sd", None, 4, 3), ("se", None, 4, 3), ("ci95", None, 4, 3), ("wilson95", 1, 1, 1)]
    assert row["readings"][-1]["z"] is None  # no test-set sizes stated


def test_checkpoint_rule_and_metric_of_the_claim_decide(registry):
    best_claim = replace(registry.claims[0], protocol=replace(registry.claims[0].protocol, checkpoint="best"))
    reg = Registry((best_claim,) + registry.claims[1:], registry.comparisons)
    rec = record(reg, "toy/alpha", "paper", 0, 80.0)
    rec = replace(rec, best=replace(rec.final, value=85.0, correct=85.0))
    result = results_of(summary_json(reg, [rec], []), "toy/alpha")["paper"]
    assert result["values"] == [85.0] and result["runs"][0]["correct"] == 85.0
    no_best = replace(rec, best=None)
    result = results_of(summary_json(reg, [no_best], []), "toy/alpha")["paper"]
    # stale, not failed: the run completed; the claim's rule changed to one its record cannot answer
    assert (result["n"], result["stale"], result["failed"]) == (0, 1, 0) and "best" in result["excluded"][0]["reason"]
    other_metric = replace(record(registry, "toy/alpha", "paper", 0, 80.0), metric="pass@2")
    result = results_of(summary_json(registry, [other_metric], []), "toy/alpha")["paper"]
    assert (result["n"], result["stale"]) == (0, 1) and "pass@2" in result["excluded"][0]["reason"]


def test_an_external_named_like_a_profile_is_never_paired_with_it(registry):
    records = [record(registry, "toy/alpha", "smoke", 0, 60.0), record(registry, "toy/beta", "smoke", 0, 50.0)]
    ext = replace(external_set_from_values("toy/beta", [40.0, 41.0]), id="smoke")
    summary = summary_json(registry, records, [ext])
    assert [r["kind"] for r in results_of_list(summary, "toy/beta")] == ["profile", "external"]
    (row,) = summary["comparisons"]
    assert row["mean_b"] == 50.0
