"""Protocol fidelity: where a claim's number comes from, how ARC is scored, what a missing ConceptARC
and a diverged run do to the evidence (audit.registry, audit.evidence, audit.sources)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import InputError
from audit.evidence import standing_at
from audit.plan import assess, expand_plan
from audit.records import RECORD_NAME, read_records
from audit.registry import load_registry
from audit.runner import run_one
from audit.sources import collect_sources, divergence_note
from trm.config import DataConfig
from trm.data.prepare import absent_train_groups, prepare_dataset

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "two_claims.yaml"


# ---- sources: the paper's table and the copy registered from -----------------------------------

def test_shipped_claims_cite_the_papers_tables_and_the_copy():
    registry = load_registry([ROOT / "claims"])
    tables = {c.id: c.source.table for c in registry.claims}
    assert tables["sudoku-extreme/hrm"] == tables["maze-hard/trm-att"] == "Table 4"
    assert tables["arc-agi-1/trm-att"] == tables["arc-agi-1/hrm"] == "Table 5"
    for claim in registry.claims:
        assert claim.source.arxiv == "2510.04871", claim.id
        if claim.source.table == "Table 1":  # the paper's ablation table, registered from the paper itself
            assert claim.source.copied_from is None, claim.id
        else:  # the headline rows reach us through the reproduction report's copy of Tables 4-5
            assert claim.source.copied_from is not None, claim.id
            assert claim.source.copied_from.report.startswith("Reproduction of")
    assert sum(c.source.table == "Table 1" for c in registry.claims) >= 6
    assert registry.claim("sudoku-extreme/hrm").source.copied_from.table == "Table 1"


def test_listing_shows_the_copy():
    result = CliRunner().invoke(cli, ["claims", str(ROOT / "claims"), "--no-count"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("sudoku-extreme/hrm"))
    assert "Table 4 (copied from report Table 1)" in line
    listing = json.loads(CliRunner().invoke(cli, ["claims", str(ROOT / "claims"), "--no-count", "--json"]).output)
    hrm = next(c for c in listing["claims"] if c["id"] == "arc-agi-1/hrm")
    assert hrm["source"]["copied_from"]["table"] == "Table 1"
    assert (hrm["protocol"]["pooled_votes"], hrm["protocol"]["task_credit"]) == (False, "all")


def test_a_copy_without_its_report_is_refused(tmp_path):
    text = FIXTURE.read_text().replace('table: "Table 1"}', 'table: "Table 1", copied_from: {table: "T1"}}', 1)
    (tmp_path / "claims.yaml").write_text(text)
    with pytest.raises(InputError, match=r"toy/alpha: source.copied_from.report: missing required key"):
        load_registry([tmp_path / "claims.yaml"])


# ---- ARC scoring: the claim's protocol and the profile's trainer settings ----------------------

def test_hrm_scores_arc_as_its_notebook_and_trm_as_its_evaluator():
    registry = load_registry([ROOT / "claims"])
    hrm, trm = registry.claim("arc-agi-1/hrm"), registry.claim("arc-agi-1/trm-att")
    assert (hrm.protocol.pooled_votes, hrm.protocol.task_credit) == (False, "all")
    assert (trm.protocol.pooled_votes, trm.protocol.task_credit) == (True, "fraction")
    paper = hrm.profiles["paper"].train
    assert (paper.eval_pool_votes, paper.eval_task_credit) == (False, "all")
    assert registry.claim("sudoku-extreme/hrm").protocol.task_credit is None


ARC_CLAIM = """claims:
  - id: toy/arc
    statement: "A toy ARC claim."
    source: {paper: "A toy paper"}
    benchmark: toy-arc
    model: TRM-Attention
    metric: pass@2
    protocol: {weights: ema, checkpoint: final, pass_k: 2, supervision_steps: 2, PROTOCOL}
    claimed: 40.0
    profiles:
      paper:
        comparable: true
        model: {hidden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 1, l_cycles: 1, mixer: attention,
                pos_encodings: rope, puzzle_emb_ndim: 16, puzzle_emb_len: 1, halt_max_steps: 2, forward_dtype: float32}
        data: {task: arc, source: kaggle, path: KAGGLE, grid_size: 6, num_aug: 2, seed: 1}
        train: {global_batch_size: 8, epochs: 2, eval_interval: 1, lr: 1.0e-3, lr_warmup_steps: 2, ema: true,
                ema_rate: 0.9, TRAIN}
"""


def arc_registry(tmp_path: Path, protocol="pooled_votes: true, task_credit: fraction",
                 train="eval_pool_votes: true, eval_task_credit: fraction"):
    path = tmp_path / "arc.yaml"
    text = ARC_CLAIM.replace("PROTOCOL", protocol).replace("TRAIN", train)
    path.write_text(text.replace("KAGGLE", str(tmp_path / "kaggle")))
    return load_registry([path])


@pytest.mark.parametrize("protocol,train,message", [
    ("pooled_votes: false, task_credit: fraction", "eval_pool_votes: true, eval_task_credit: fraction",
     "toy/arc: profiles.paper.train.eval_pool_votes: the claim's protocol has pooled_votes=False, "
     "got eval_pool_votes=True"),
    ("pooled_votes: true, task_credit: all", "eval_pool_votes: true, eval_task_credit: fraction",
     "toy/arc: profiles.paper.train.eval_task_credit: the claim's protocol has task_credit='all', "
     "got eval_task_credit='fraction'"),
    ("pooled_votes: true", "eval_pool_votes: true",
     "toy/arc: protocol.task_credit: an ARC claim with a comparable profile (paper) must state it"),
])
def test_a_comparable_profile_must_score_arc_as_its_claim(tmp_path, protocol, train, message):
    with pytest.raises(InputError) as err:
        arc_registry(tmp_path, protocol, train)
    assert str(err.value).endswith(message)


def test_only_arc_claims_state_arc_scoring(tmp_path):
    text = FIXTURE.read_text().replace("protocol: {weights: ema, checkpoint: final, supervision_steps: 2}",
                                       "protocol: {weights: ema, checkpoint: final, supervision_steps: 2, "
                                       "task_credit: all}", 1)
    (tmp_path / "claims.yaml").write_text(text)
    with pytest.raises(InputError, match="toy/alpha: protocol.task_credit: applies to ARC claims only"):
        load_registry([tmp_path / "claims.yaml"])


# ---- a missing ConceptARC: counted, but not comparable -----------------------------------------

def write_tiny_arc(directory: Path) -> None:
    """Two training tasks and one evaluation task in the Kaggle layout, no ConceptARC file."""
    directory.mkdir(parents=True)
    g1, g2 = [[1, 2], [3, 0]], [[0, 5, 5], [6, 0, 0]]
    files = {"training_challenges": {"aaaa0001": {"train": [{"input": g1, "output": g2}], "test": [{"input": g2}]},
                                     "aaaa0002": {"train": [{"input": g2, "output": g1}], "test": [{"input": g1}]}},
             "training_solutions": {"aaaa0001": [g1], "aaaa0002": [g2]},
             "evaluation_challenges": {"eeee0001": {"train": [{"input": g1, "output": g1}], "test": [{"input": g2}]}},
             "evaluation_solutions": {"eeee0001": [g2]}}
    for name, content in files.items():
        (directory / f"arc-agi_{name}.json").write_text(json.dumps(content))


def arc_result(data: dict, pass2=0.5) -> dict:
    ev = {"step": 4, "epoch": 2, "metrics": {"pass@2": pass2}, "counts": {"pass@2": [pass2, 1]}}
    return {"status": "completed", "error": None, "steps": 4, "total_steps": 4, "evaluations": [ev],
            "final": ev, "best": ev, "data": data, "environment": {"world_size": 1}, "wall_time_s": 1.0}


def test_a_run_without_concept_counts_as_a_proxy_with_the_reason(tmp_path):
    write_tiny_arc(tmp_path / "kaggle")
    registry = arc_registry(tmp_path)
    claim = registry.claim("toy/arc")
    root = prepare_dataset(claim.profiles["paper"].data, tmp_path / "cache")
    build = json.loads((root / "build.json").read_text())
    data = {"task": "arc", "arc_absent": absent_train_groups(build)}  # what trm.train's data info carries
    runs = tmp_path / "runs"
    spec = expand_plan(registry, profile="paper", seeds=[0], runs_dir=runs)[0]
    run_one(spec, lambda s: arc_result(data))
    found = standing_at(spec.directory / RECORD_NAME, claim, "paper", 0)
    reason = "ConceptARC missing: 160 of 163 training groups absent"
    assert (found.counts, found.not_comparable, found.value) == (True, reason, 50.0)
    assert assess(spec).state == "done"  # retraining cannot bring the missing tasks
    (source,), _ = collect_sources(registry, read_records(runs)[0], [])
    assert not source.comparable and source.not_comparable == (reason,) and reason in source.deviations
    assert [r.value for r in source.runs] == [50.0]


def test_only_the_runs_without_concept_are_named(tmp_path):
    write_tiny_arc(tmp_path / "kaggle")
    registry = arc_registry(tmp_path)
    runs = tmp_path / "runs"
    gap = {"subsets": {"concept": 160}, "train_groups": 960}
    for spec, absent in zip(expand_plan(registry, profile="paper", seeds=[0, 1], runs_dir=runs), (gap, None)):
        run_one(spec, lambda s, absent=absent: arc_result({"arc_absent": absent}))
    (source,), _ = collect_sources(registry, read_records(runs)[0], [])
    assert source.not_comparable == ("ConceptARC missing: 160 of 960 training groups absent (1 of 2 counted runs)",)
    assert not source.comparable


def test_a_malformed_absent_record_is_damaged(tmp_path):
    write_tiny_arc(tmp_path / "kaggle")
    registry = arc_registry(tmp_path)
    spec = expand_plan(registry, profile="paper", seeds=[0], runs_dir=tmp_path / "runs")[0]
    run_one(spec, lambda s: arc_result({"arc_absent": {"subsets": {"concept": 160}, "train_groups": 960}}))
    path = spec.directory / RECORD_NAME
    data = json.loads(path.read_text())
    data["data"]["arc_absent"] = {"subsets": {"concept": "all"}}  # a hand edit: the count is gone
    path.write_text(json.dumps(data))
    found = standing_at(path, registry.claim("toy/arc"), "paper", 0)
    assert (found.status, found.counts) == ("damaged", False) and "data.arc_absent: expected" in found.reason


def test_a_complete_arc_source_stays_comparable(tmp_path):
    write_tiny_arc(tmp_path / "kaggle")
    registry = arc_registry(tmp_path)
    runs = tmp_path / "runs"
    run_one(expand_plan(registry, profile="paper", seeds=[0], runs_dir=runs)[0],
            lambda s: arc_result({"arc_absent": None}))
    (source,), _ = collect_sources(registry, read_records(runs)[0], [])
    assert source.comparable and source.not_comparable == ()


# ---- divergence: visible under either policy ---------------------------------------------------

def exact(step: int, value: float) -> dict:
    return {"step": step, "epoch": 1, "metrics": {"exact_accuracy": value},
            "counts": {"exact_accuracy": [value * 16, 16]}}


def diverged_result(step=7, evaluations=((5, 0.5),)) -> dict:
    """What trm.train returns when a loss goes non-finite: failed, its reason, the evaluations before it."""
    evs = [exact(s, v) for s, v in evaluations]
    best = max(evs, key=lambda e: e["metrics"]["exact_accuracy"]) if evs else None
    return {"status": "failed", "error": f"non-finite loss nan at step {step}", "steps": step - 1,
            "total_steps": 10, "evaluations": evs, "final": evs[-1] if evs else None, "best": best,
            "data": {}, "environment": {"world_size": 1}, "wall_time_s": 1.0}


def completed_result(value=0.75) -> dict:
    return {**diverged_result(evaluations=((10, value),)), "status": "completed", "error": None}


def two_seeds(tmp_path: Path, protocol: str = "", first=None):
    """toy/alpha smoke: seed 0 diverged at step 7 after an evaluation at step 5 (50 %), seed 1 completed (75 %)."""
    text = FIXTURE.read_text()
    if protocol:
        text = text.replace("protocol: {weights: ema, checkpoint: final, supervision_steps: 2}",
                            "protocol: {weights: ema, checkpoint: final, supervision_steps: 2, " + protocol + "}", 1)
    (tmp_path / "claims.yaml").write_text(text)
    registry = load_registry([tmp_path / "claims.yaml"])
    runs = tmp_path / "runs"
    specs = expand_plan(registry, profile="smoke", seeds=[0, 1], runs_dir=runs, claim_ids=["toy/alpha"])
    run_one(specs[0], lambda s: first or diverged_result())
    run_one(specs[1], lambda s: completed_result())
    (source,) = [s for s in collect_sources(registry, read_records(runs)[0], [])[0] if s.source == "smoke"]
    return registry.claim("toy/alpha"), specs, source


def test_last_finite_counts_a_diverged_run_with_its_last_evaluation(tmp_path):
    claim, specs, source = two_seeds(tmp_path)
    assert claim.protocol.diverged == "last_finite"  # the default
    found = standing_at(specs[0].directory / RECORD_NAME, claim, "smoke", 0)
    assert (found.counts, found.value, found.diverged_at) == (True, 50.0, 7)
    assert found.reason == "non-finite loss nan at step 7: counted with its last finite evaluation (step 5)"
    assert assess(specs[0]).state == "done"
    assert [(r.value, r.diverged_at) for r in source.runs] == [(50.0, 7), (75.0, None)]
    assert source.diverged == 1 and source.excluded == ()
    assert divergence_note(source) == "1 of 2 runs diverged (seed 0 at step 7); counted with its last finite evaluation"


def test_last_finite_under_the_best_rule_takes_the_best_evaluation_before_it(tmp_path):
    first = diverged_result(evaluations=((3, 0.625), (5, 0.5)))
    claim, specs, source = two_seeds(tmp_path, "", first)
    text = (tmp_path / "claims.yaml").read_text().replace("checkpoint: final, supervision_steps: 2}",
                                                          "checkpoint: best, supervision_steps: 2}", 1)
    (tmp_path / "claims.yaml").write_text(text)
    claim = load_registry([tmp_path / "claims.yaml"]).claim("toy/alpha")
    found = standing_at(specs[0].directory / RECORD_NAME, claim, "smoke", 0)
    assert (found.counts, found.value) == (True, 62.5)
    assert found.reason.endswith("counted with its best finite evaluation (step 3)")


def test_exclude_keeps_a_diverged_run_out_and_says_so(tmp_path):
    claim, specs, source = two_seeds(tmp_path, "diverged: exclude")
    found = standing_at(specs[0].directory / RECORD_NAME, claim, "smoke", 0)
    assert (found.counts, found.status, found.diverged_at) == (False, "failed", 7)
    assert found.reason == "non-finite loss nan at step 7: excluded by the claim's protocol (diverged: exclude)"
    assert [r.value for r in source.runs] == [75.0]
    assert [(e.status, e.diverged_at) for e in source.excluded] == [("failed", 7)]
    assert source.diverged == 1
    assert divergence_note(source) == "1 of 2 runs diverged (seed 0 at step 7); excluded"


def test_a_run_that_diverged_before_any_evaluation_is_excluded_under_either_policy(tmp_path):
    claim, specs, source = two_seeds(tmp_path, "", diverged_result(step=3, evaluations=()))
    found = standing_at(specs[0].directory / RECORD_NAME, claim, "smoke", 0)
    assert (found.counts, found.status) == (False, "failed")
    assert found.reason == "non-finite loss nan at step 3, before its first evaluation: nothing finite to count"
    assert divergence_note(source) == "1 of 2 runs diverged (seed 0 at step 3); excluded"


def test_an_unknown_divergence_policy_is_refused(tmp_path):
    with pytest.raises(InputError, match="toy/alpha: protocol.diverged: expected one of 'last_finite', 'exclude'"):
        two_seeds(tmp_path, "diverged: drop")


def test_the_trainer_keeps_the_evaluations_made_before_a_divergence(tmp_path, monkeypatch):
    """trm.train, for real: poison the first supervision step after the first evaluation; the failed
    result keeps that evaluation as `final`, and the record counts with it."""
    import trm.train as train_module
    from audit.runner import train_in_process

    real_step, real_evaluate = train_module.supervision_step, train_module._evaluate
    evaluated = {"n": 0}

    def evaluate(*args, **kwargs):
        evaluated["n"] += 1
        return real_evaluate(*args, **kwargs)

    def poisoned(model, carry, batch, **kwargs):
        carry, out = real_step(model, carry, batch, **kwargs)
        if evaluated["n"] == 1:
            out.loss = out.loss * float("nan")
        return carry, out

    monkeypatch.setattr(train_module, "_evaluate", evaluate)
    monkeypatch.setattr(train_module, "supervision_step", poisoned)
    registry = load_registry([FIXTURE])
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path / "runs", claim_ids=["toy/alpha"])[0]
    record = run_one(spec, lambda s: train_in_process(s, data_cache=tmp_path / "cache"))
    assert record.status == "failed" and record.diverged_at is not None
    assert record.final is not None and record.final.step == record.diverged_at - 1
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, "smoke", 0)
    assert found.counts and found.evaluation == record.final
