"""`trm-audit evaluate CHECKPOINT`: given weights scored with a claim's protocol, recorded as their own source.

A tiny profile is trained here (seconds); its last checkpoint is then evaluated as it is (our layout)
and rewritten with the official key names (the official layout). Either way the metrics must equal,
bit for bit, what training's own evaluation at that step wrote to metrics.csv: the same weights, the
same test batches and the same evaluation code on the same CPU threads leave no room for a rounding
difference.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from audit.cli import cli
from audit.records import read_records
from trm.official import our_name

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"
CLAIM, PROFILE = "toy/alpha", "paper"

# Our state-dict names -> the official ones (the inverse of trm.official's rules, for this test only).
_TO_OFFICIAL = [
    (r"token_emb\.weight", "embed_tokens.embedding_weight"),
    (r"pos_emb\.weight", "embed_pos.embedding_weight"),
    (r"(lm_head\.weight|q_head\.weight|q_head\.bias|puzzle_emb\.weights|H_init|L_init)", r"\1"),
    (r"f_([LH])\.blocks\.(\d+)\.mixer\.qkv\.weight", r"\1_level.layers.\2.self_attn.qkv_proj.weight"),
    (r"f_([LH])\.blocks\.(\d+)\.mixer\.out\.weight", r"\1_level.layers.\2.self_attn.o_proj.weight"),
    (r"f_([LH])\.blocks\.(\d+)\.mixer\.(gate_up|down)\.weight", r"\1_level.layers.\2.mlp_t.\3_proj.weight"),
    (r"f_([LH])\.blocks\.(\d+)\.mlp\.(gate_up|down)\.weight", r"\1_level.layers.\2.mlp.\3_proj.weight"),
]


def official_state_dict(ours: dict) -> dict:
    """Our weights under the names the official training script saves (`_orig_mod.model.inner.` prefix)."""
    out = {}
    for name, tensor in ours.items():
        pattern, replacement = next((p, r) for p, r in _TO_OFFICIAL if re.fullmatch(p, name))
        official = "_orig_mod.model.inner." + re.sub(pattern, replacement, name)
        assert our_name(official) == name  # the round trip through trm.official's mapping
        out[official] = tensor.clone()
    return out


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained toy/alpha paper run: (tmp dir, its newest checkpoint file, the test metrics of its last evaluation)."""
    tmp = tmp_path_factory.mktemp("evaluate")
    out = invoke("run", FIXTURE, "--claim", CLAIM, "--profile", PROFILE, "--seeds", "0", "--runs-dir", tmp / "runs",
                 "--data-cache", tmp / "cache", "--threads", "1", "--device", "cpu")
    assert out.exit_code == 0, out.output
    run = tmp / "runs" / CLAIM / PROFILE / "seed-0"
    checkpoint = sorted((run / "checkpoint").glob("ckpt-*.pt"))[-1]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    last = max(int(r["step"]) for r in rows if r["split"] == "test")
    logged = {r["metric"]: float(r["value"]) for r in rows if r["split"] == "test" and int(r["step"]) == last}
    return tmp, checkpoint, last, logged


def evaluate(tmp, checkpoint, *extra):
    return invoke("evaluate", checkpoint, "--claim", CLAIM, "--profile", PROFILE, "--claims", FIXTURE,
                  "--runs-dir", tmp / "runs", "--data-cache", tmp / "cache", *extra)


def evaluated_record(tmp, layout):
    records, problems = read_records(tmp / "runs")
    assert problems == []
    [record] = [r for r in records if r.evaluated and r.checkpoint["layout"] == layout]
    return record


def test_official_layout_checkpoint_gives_the_metrics_training_logged(trained):
    tmp, checkpoint, step, logged = trained
    saved = torch.load(checkpoint, weights_only=True)
    weights = dict(saved["model"], **saved["ema"]["shadow"])  # what training evaluated: the EMA copy
    official = tmp / f"step_{step}"
    torch.save(official_state_dict(weights), official)

    out = evaluate(tmp, official)
    assert out.exit_code == 0, out.output
    record = evaluated_record(tmp, "official")
    assert 0 < logged["accuracy"] < 1 and logged["lm_loss"] > 0  # real numbers to compare, not zeros
    assert record.final.metrics == logged  # every metric, exactly
    assert record.final.value == 100.0 * logged["exact_accuracy"]
    assert record.checkpoint["step"] == step and record.steps == step
    assert record.checkpoint["path"] == str(official)
    assert record.checkpoint["sha256"] == hashlib.sha256(official.read_bytes()).hexdigest()
    assert record.checkpoint["sha256"][:16] in out.output
    assert "official checkpoint" in out.output


def test_our_checkpoint_gives_the_metrics_training_logged(trained):
    tmp, checkpoint, step, logged = trained
    out = evaluate(tmp, checkpoint, "--seed", "0")
    assert out.exit_code == 0, out.output
    record = evaluated_record(tmp, "ours")
    assert record.final.metrics == logged
    assert record.checkpoint["step"] == step and record.checkpoint["weights"] == "ema"
    assert record.path.parent.name == f"checkpoint-{record.checkpoint['sha256'][:16]}-seed-0"


def test_evaluated_checkpoints_are_their_own_source_never_pooled_with_training(trained):
    tmp, checkpoint, _, logged = trained
    assert evaluate(tmp, checkpoint).exit_code == 0
    out = invoke("report", "--runs-dir", tmp / "runs", "--claims", FIXTURE, "--out", tmp / "reports")
    assert out.exit_code == 0, out.output
    summary = json.loads((tmp / "reports" / "summary.json").read_text())
    [claim] = [c for c in summary["claims"] if c["id"] == CLAIM]
    by_source = {r["source"]: r for r in claim["results"]}
    assert by_source[PROFILE]["kind"] == "profile" and by_source[PROFILE]["n"] == 1
    evaluated = by_source[f"{PROFILE} (evaluated checkpoint)"]
    assert evaluated["kind"] == "checkpoint" and evaluated["values"] == [100.0 * logged["exact_accuracy"]] * evaluated["n"]
    assert evaluated["declared_seeds"] is None  # not in the seeds table: `run` trains no seed of it
    report = (tmp / "reports" / "report.md").read_text()
    assert "the weights reproduce" in report and "checkpoint " in report


def test_a_checkpoint_of_another_model_is_refused(trained):
    tmp, checkpoint, _, _ = trained
    out = invoke("evaluate", checkpoint, "--claim", CLAIM, "--profile", "smoke", "--claims", FIXTURE,
                 "--runs-dir", tmp / "runs", "--data-cache", tmp / "cache")
    assert out.exit_code == 2
    assert "trained with another model than toy/alpha / smoke (differs in model.h_cycles, model.l_cycles)" in out.output


def test_a_file_that_is_not_a_checkpoint_is_bad_input(tmp_path):
    junk = tmp_path / "weights.pt"
    junk.write_text("not a checkpoint")
    out = invoke("evaluate", junk, "--claim", CLAIM, "--claims", FIXTURE, "--runs-dir", tmp_path / "runs")
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert f"{junk}: not a readable checkpoint" in out.output
    out = invoke("evaluate", junk, "--claim", CLAIM, "--profile", "nope", "--claims", FIXTURE)
    assert out.exit_code == 2 and "has no profile 'nope'" in out.output


# ---- the code behind each run (report: commit, dirty tree, warnings) ----

def provenance_record(registry, profile, seed, code):
    from dataclasses import replace

    from summary_inputs import record

    return replace(record(registry, CLAIM, profile, seed, value=90.0), code=code)


def test_the_report_names_each_runs_commit_and_says_when_it_is_not_recorded():
    from audit.run_provenance import code_label
    from summary_inputs import two_claims_registry

    registry = two_claims_registry()
    assert code_label(provenance_record(registry, PROFILE, 0, {"commit": "a" * 40, "dirty": False})) == \
        "aaaaaaaaaaaa (clean)"
    assert code_label(provenance_record(registry, PROFILE, 0, {"commit": "b" * 40, "dirty": True})) == \
        "bbbbbbbbbbbb (dirty tree)"
    assert code_label(provenance_record(registry, PROFILE, 0, {})) == "commit not recorded"  # an older record
    assert code_label(provenance_record(registry, PROFILE, 0, {"commit": None, "dirty": None})) == \
        "commit not recorded"  # git was absent when it ran


def test_comparable_evidence_from_a_dirty_tree_is_warned_about_proxies_are_not():
    from audit.aggregate import build_summary
    from audit.run_provenance import dirty_warnings
    from summary_inputs import two_claims_registry

    registry = two_claims_registry()
    records = [provenance_record(registry, PROFILE, 0, {"commit": "c" * 40, "dirty": True}),
               provenance_record(registry, PROFILE, 1, {"commit": "c" * 40, "dirty": False}),
               provenance_record(registry, "smoke", 0, {"commit": "c" * 40, "dirty": True})]
    summary = build_summary(registry, records, [])
    assert dirty_warnings(registry, records, summary) == [
        "toy/alpha / paper: 1 of 2 counted run(s) (seed 0) came from a working tree with uncommitted changes "
        "(on cccccccccccc): the code behind this comparable result is no commit; rerun from a clean checkout "
        "to make it checkable"]
    clean = [provenance_record(registry, PROFILE, 0, {"commit": "c" * 40, "dirty": False})]
    assert dirty_warnings(registry, clean, build_summary(registry, clean, [])) == []


def test_a_checkpoint_field_is_checked_like_every_other_field():
    from audit.records import RecordError, parse_record
    from summary_inputs import record, two_claims_registry

    base = record(two_claims_registry(), CLAIM, PROFILE, 0, value=50.0)
    data = {"format_version": 1, "claim_id": CLAIM, "profile": PROFILE, "seed": 0, "status": "completed",
            "config": base.config, "config_hash": base.config_hash, "metric": base.metric,
            "final": {"step": 3, "value": 50.0, "correct": 1, "total": 2, "metrics": {}}}
    good = {"path": "w.pt", "sha256": "0" * 64, "layout": "official", "step": None, "weights": "ema"}
    assert parse_record(dict(data, checkpoint=good), Path("run.json")).location == \
        Path(CLAIM) / PROFILE / f"checkpoint-{'0' * 16}-seed-0"
    assert not parse_record(data, Path("run.json")).evaluated  # a record without the field: a trained run
    for field, bad in (("layout", "theirs"), ("sha256", "abc"), ("step", -1), ("weights", None), ("path", 3)):
        with pytest.raises(RecordError, match=f"checkpoint.{field}"):
            parse_record(dict(data, checkpoint=dict(good, **{field: bad})), Path("run.json"))
