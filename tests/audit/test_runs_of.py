"""A claim scored from another claim's runs (`runs_of`, e.g. TRM-MLP without EMA = the raw weights of the
TRM-MLP runs): its sources, its evidence (`weights: raw` reads raw_final / raw_best), and the paired
comparison of the two arms, seed by seed."""
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from audit import stats, verdicts
from audit.evidence import selected_evaluation, standing
from audit.plan import expand_plan
from audit.records import parse_record
from audit.registry import load_registry
from audit.sources import collect_sources
from summary_inputs import DATA, summary_json

RAW_CLAIM = """
  - id: toy/alpha-raw
    statement: "Model alpha without EMA."
    source: {paper: "A toy paper"}
    benchmark: toy-sudoku
    model: TRM-MLP (no EMA)
    metric: exact_accuracy
    protocol: {weights: raw, checkpoint: final, supervision_steps: 2}
    claimed: 85.0
    runs_of: toy/alpha
    profiles:
"""
COMPARISON = """
  - id: toy/alpha-vs-raw
    a: toy/alpha
    b: toy/alpha-raw
    statement: "EMA beats raw weights"
"""


@pytest.fixture
def registry(tmp_path):
    """two_claims.yaml with toy/alpha's paper profile scoring its raw weights and toy/alpha-raw (runs_of toy/alpha)."""
    text = (DATA / "two_claims.yaml").read_text()
    alpha = text[text.index("    profiles:\n"):text.index("  - id: toy/beta")]
    alpha = alpha.replace("ema: true, ema_rate: 0.9}\n      smoke", "ema: true, ema_rate: 0.9, eval_raw_weights: true}\n"
                          "      smoke", 1)
    assert "eval_raw_weights" in alpha
    text = text.replace(text[text.index("    profiles:\n"):text.index("  - id: toy/beta")], alpha, 1)
    claims, comparisons = text.split("comparisons:\n")
    text = claims + RAW_CLAIM + alpha[len("    profiles:\n"):] + "comparisons:\n" + comparisons + COMPARISON
    (tmp_path / "claims.yaml").write_text(text)
    return load_registry([tmp_path / "claims.yaml"])


def evaluation(value, total=100):
    return {"step": 10, "value": value, "correct": value / 100 * total, "total": total, "metrics": {}}


def alpha_record(registry, profile, seed, ema, raw=None):
    """A completed toy/alpha record: EMA final `ema` percent, raw final `raw` (absent when None)."""
    config = registry.claim("toy/alpha").profiles[profile].config_for(seed)
    data = {"format_version": 1, "claim_id": "toy/alpha", "profile": profile, "seed": seed, "status": "completed",
            "error": None, "config": config.to_dict(), "config_hash": config.config_hash(),
            "metric": "exact_accuracy", "final": evaluation(ema), "best": evaluation(ema), "selected": "final"}
    if raw is not None:
        data["raw_final"] = data["raw_best"] = evaluation(raw)
    return parse_record(data, Path("runs") / "toy" / "alpha" / profile / f"seed-{seed}" / "run.json")


def test_a_runs_of_claim_is_scored_from_the_named_claims_records(registry):
    raw_claim = registry.claim("toy/alpha-raw")
    rec = alpha_record(registry, "paper", 0, ema=90.0, raw=80.0)
    assert selected_evaluation(rec, registry.claim("toy/alpha")).value == 90.0
    assert selected_evaluation(rec, raw_claim).value == 80.0  # weights: raw reads the raw score of an EMA run
    found = standing(rec, raw_claim)
    assert found.counts and found.value == 80.0
    sources, problems = collect_sources(registry, [rec], [])
    assert problems == []
    by_claim = {(s.claim_id, s.source): [r.value for r in s.runs] for s in sources}
    assert by_claim == {("toy/alpha", "paper"): [90.0], ("toy/alpha-raw", "paper"): [80.0]}


def test_a_run_without_raw_scores_is_stale_and_names_the_option(registry):
    rec = alpha_record(registry, "smoke", 0, ema=70.0)  # smoke does not score raw weights
    found = standing(rec, registry.claim("toy/alpha-raw"))
    assert (found.counts, found.status, found.cause) == (False, "stale", "checkpoint_missing")
    assert "train.eval_raw_weights" in found.reason
    assert standing(rec, registry.claim("toy/alpha")).counts  # still evidence for the claim that trained it
    (source,) = [s for s in collect_sources(registry, [rec], [])[0] if s.claim_id == "toy/alpha-raw"]
    assert source.runs == () and [e.status for e in source.excluded] == ["stale"]


def test_a_runs_of_claim_is_never_planned(registry, tmp_path):
    specs = expand_plan(registry, profile="paper", runs_dir=tmp_path, claim_ids=["toy/alpha", "toy/alpha-raw"])
    assert "toy/alpha-raw" not in {s.claim.id for s in specs} and "toy/alpha" in {s.claim.id for s in specs}


def test_ema_vs_raw_is_a_paired_comparison_matched_by_seed(registry):
    ema, raw = [90.0, 84.0, 88.0, 93.0], [82.0, 77.0, 81.0, 85.0]  # seeds move both arms together
    records = [alpha_record(registry, "paper", k, e, r) for k, (e, r) in enumerate(zip(ema, raw))]
    records.append(alpha_record(registry, "smoke", 0, ema=70.0))  # no raw scores: the raw arm has no smoke runs
    rows = {r["source"]: r for r in summary_json(registry, records, [])["comparisons"] if r["id"] == "toy/alpha-vs-raw"}
    paper = rows["paper"]
    ttest = sps.ttest_rel(ema, raw, alternative="greater")
    assert paper["method"] == "paired" and (paper["n_a"], paper["n_b"]) == (4, 4)
    assert paper["diff"] == pytest.approx(np.mean(np.subtract(ema, raw)))
    assert paper["t"] == pytest.approx(ttest.statistic) and paper["df"] == 3
    assert paper["p_welch"] == pytest.approx(ttest.pvalue)
    welch = sps.ttest_ind(ema, raw, equal_var=False, alternative="greater").pvalue
    assert ttest.pvalue < welch  # pairing removes the seed-to-seed spread both arms share
    assert paper["verdict"] == verdicts.SUPPORTED and "paired t p(a > b)" in paper["reason"]
    smoke = rows["smoke"]
    assert smoke["method"] == "paired" and smoke["n_a"] == 0 and smoke["verdict"] == verdicts.INCONCLUSIVE
    assert "no seed has a counted run in both arms" in smoke["reason"]


def test_paired_runs_match_seeds_and_leave_unmatched_ones_out(registry):
    ema, raw = {0: 90.0, 1: 86.0, 2: 88.0}, {0: 80.0, 2: 83.0}
    records = [alpha_record(registry, "paper", k, v, raw.get(k)) for k, v in ema.items()]
    (row,) = [r for r in summary_json(registry, records, [])["comparisons"]
              if r["id"] == "toy/alpha-vs-raw" and r["source"] == "paper"]
    assert (row["n_a"], row["n_b"], row["mean_a"], row["mean_b"]) == (2, 2, 89.0, 81.5)
    d = [10.0, 5.0]
    p = sps.ttest_1samp(d, 0.0, alternative="greater").pvalue
    # alone with toy/alpha-vs-beta (untested: beta has no runs) in the family
    assert row["p_welch"] == pytest.approx(p) and row["p_adjusted"] == pytest.approx(stats.holm_adjust([p])[0])
    assert row["verdict"] == verdicts.INCONCLUSIVE
    assert row["seeds_needed"] == stats.seeds_needed(7.5, float(np.std(d, ddof=1)), arms=1).exact_t


def test_the_listing_gives_runs_of_and_each_comparisons_alternative():
    from audit.listing import list_claims
    from summary_inputs import ROOT

    listing = list_claims(load_registry([ROOT / "claims"]), count_params=False)
    runs_of = {c["id"]: c["runs_of"] for c in listing["claims"]}
    assert runs_of["sudoku-extreme/trm-mlp-no-ema"] == "sudoku-extreme/trm-mlp"
    assert runs_of["sudoku-extreme/trm-mlp"] is None
    kinds = {c["id"]: (c["alternative"], c["margin_pp"]) for c in listing["comparisons"]}
    assert kinds["sudoku-extreme/trm-mlp-vs-act-continue"] == ("equivalent", 2.0)
    assert kinds["sudoku-extreme/trm-mlp-vs-no-ema"] == ("greater", None)
