"""Issue 16, the runs directory and what `run` returns: each defect class with cases of its own.

Every case asserts the exit code, the named problem (the path and why), and that nothing saved is
lost (the bytes of the records and reports that were there before are still there, or kept aside).
Records are made by `run_one` with an injected trainer, so nothing here trains a model except the
CSV case of the 0-step class (a few seconds).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import audit.launch
from audit.cli import cli
from audit.plan import assess, expand_plan
from audit.records import read_records, run_dir
from audit.registry import load_registry
from audit.runner import build_record, run_one

CLAIMS = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"
ALPHA, BETA = "toy/alpha", "toy/beta"


def fake_result(value=0.75, steps=10):
    ev = {"step": 10, "epoch": 2, "metrics": {"exact_accuracy": value, "accuracy": 0.9},
          "counts": {"exact_accuracy": [int(round(value * 16)), 16]}}
    return {"status": "completed", "error": None, "steps": steps, "total_steps": steps,
            "primary_metric": "exact_accuracy", "evaluations": [ev], "final": ev, "best": ev,
            "data": {"source": "generated", "train_examples": 4}, "environment": {"world_size": 1, "device": "cpu"},
            "wall_time_s": 36.0}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def make_runs(root: Path, values=(0.75, 0.8125, 0.875), profile="smoke", claims=CLAIMS) -> Path:
    """Records of toy/alpha (and toy/beta on smoke) at seeds 0.., one per value."""
    registry = load_registry([claims])
    runs = root / "runs"
    for spec in expand_plan(registry, profile=profile, seeds=range(len(values)), runs_dir=runs, claim_ids=[ALPHA]):
        run_one(spec, lambda s, v=values[spec.seed]: fake_result(v))
    if profile == "smoke":
        for spec in expand_plan(registry, profile="smoke", seeds=[0, 1], runs_dir=runs, claim_ids=[BETA]):
            run_one(spec, lambda s: fake_result(0.5 + 0.0625 * s.seed))
    return runs


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every regular file under root (symlinks not followed)."""
    out = {}
    for top, _, files in os.walk(root):
        for name in files:
            path = Path(top) / name
            if not path.is_symlink() and not name.startswith("."):
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def report_args(root: Path, runs: Path, *extra):
    return ["report", "--runs-dir", runs, "--claims", CLAIMS, "--out", root / "reports", *extra]


def run_args(runs: Path, *extra):
    return ["run", CLAIMS, "--claim", ALPHA, "--runs-dir", runs, "--seeds", "0-2", "--threads", "1",
            "--device", "cpu", *extra]


def summary(root: Path) -> dict:
    return json.loads((root / "reports" / "summary.json").read_text())


def alpha_smoke_n(root: Path) -> int:
    entry = next(c for c in summary(root)["claims"] if c["id"] == ALPHA)
    return next(r["n"] for r in entry["results"] if r["source"] == "smoke")


@pytest.fixture
def no_training(monkeypatch):
    """`run` must not train in the tests that check what it refuses: any call fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("trained although it should not have")

    monkeypatch.setattr(audit.launch, "train_in_process", refuse)


# ---- one bad record breaks everything --------------------------------------------------------

WRONG_TYPES = [
    ("seed", None, "seed: expected a non-negative integer"),
    ("evaluations", 5, "evaluations: expected a list of objects"),
    ("environment", "x", "environment: expected an object"),
    ("wall_time_s", "fast", "wall_time_s: expected a non-negative number"),
    ("steps", "many", "steps: expected a non-negative integer"),
    ("claim_id", 7, "claim_id: expected a string"),
    ("config", [], "config: expected an object"),
    ("final", {"step": "3", "value": 75.0}, "final.step: expected a non-negative integer"),
    ("best", {"step": 3, "value": "75"}, "best.value: expected a number"),
    ("data", {"arc_absent": None, "processed_hash": 5}, None),  # a foreign data field is kept, not read
]


@pytest.mark.parametrize("field,value,problem", WRONG_TYPES, ids=[w[0] + "-" + type(w[1]).__name__ for w in WRONG_TYPES])
def test_a_wrong_typed_field_is_a_named_problem_not_a_crash(tmp_path, field, value, problem):
    runs = make_runs(tmp_path)
    path = run_dir(runs, ALPHA, "smoke", 1) / "run.json"
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))
    before = snapshot(runs)
    result = invoke(*report_args(tmp_path, runs))
    assert result.exit_code == 0, result.output
    if problem is None:
        assert summary(tmp_path)["problems"] == [] and alpha_smoke_n(tmp_path) == 3
        return
    problems = summary(tmp_path)["problems"]
    assert len(problems) == 1 and problems[0].startswith(f"{path}: {problem}")
    assert alpha_smoke_n(tmp_path) == 2  # the other two still count
    assert f"{path}: {problem}" in (tmp_path / "reports" / "report.md").read_text()
    check = invoke(*report_args(tmp_path, runs, "--check"))
    assert check.exit_code == 0, check.output  # the damaged record is read the same way every time
    dry = invoke(*run_args(runs, "--dry-run"))
    assert dry.exit_code == 0, dry.output
    assert "retry  toy/alpha  smoke  seed 1  (damaged: unreadable record" in dry.output and problem in dry.output
    assert snapshot(runs) == before  # report and the dry run changed nothing


def test_a_damaged_record_is_kept_aside_before_its_retry_replaces_it(tmp_path, monkeypatch):
    runs = make_runs(tmp_path)
    path = run_dir(runs, ALPHA, "smoke", 2) / "run.json"
    data = json.loads(path.read_text())
    data["seed"] = None
    path.write_text(json.dumps(data))
    damaged = path.read_bytes()
    monkeypatch.setattr(audit.launch, "train_in_process", lambda spec, **kw: fake_result(0.875))
    result = invoke(*run_args(runs))
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("0 of 1 runs failed")
    assert (path.parent / "run.superseded-1.json").read_bytes() == damaged  # kept aside, byte for byte
    assert json.loads(path.read_text())["seed"] == 2
    records, problems = read_records(runs)
    assert problems == [] and len(records) == 5


# ---- records dropped in silence --------------------------------------------------------------

def _link_seed_dir(runs: Path, tmp_path: Path) -> Path:
    seed = run_dir(runs, ALPHA, "smoke", 1)
    elsewhere = tmp_path / "elsewhere" / "seed-1"
    shutil.move(str(seed), elsewhere)
    seed.symlink_to(elsewhere, target_is_directory=True)
    return seed


def _link_record(runs: Path, tmp_path: Path) -> Path:
    record = run_dir(runs, ALPHA, "smoke", 1) / "run.json"
    (tmp_path / "elsewhere").mkdir()
    shutil.move(str(record), tmp_path / "elsewhere" / "run.json")
    record.symlink_to(tmp_path / "elsewhere" / "run.json")
    return record


def _link_profile_dir(runs: Path, tmp_path: Path) -> Path:
    profile = run_dir(runs, ALPHA, "smoke", 0).parent
    shutil.move(str(profile), tmp_path / "elsewhere")
    profile.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    return profile


@pytest.mark.parametrize("link", [_link_seed_dir, _link_record, _link_profile_dir])
def test_a_symlink_in_the_runs_dir_is_named_by_report_and_plan(tmp_path, link, no_training):
    runs = make_runs(tmp_path)
    linked = link(runs, tmp_path)
    before = snapshot(tmp_path / "elsewhere")
    result = invoke(*report_args(tmp_path, runs))
    assert result.exit_code == 0, result.output
    problems = summary(tmp_path)["problems"]
    assert any(p.startswith(f"{linked}: a symlink") for p in problems), problems
    assert f"{linked}: a symlink" in (tmp_path / "reports" / "report.md").read_text()
    dry = invoke(*run_args(runs, "--dry-run"))
    assert dry.exit_code == 0 and "blocked" in dry.output and f"{linked} is a symlink" in dry.output
    assert "done   toy/alpha  smoke  seed 1" not in dry.output  # was: 'done' while the report left it out
    refused = invoke(*run_args(runs))
    assert refused.exit_code == 2 and f"{linked} is a symlink" in refused.output
    assert snapshot(tmp_path / "elsewhere") == before


def test_a_run_json_that_is_a_directory_is_named(tmp_path):
    runs = make_runs(tmp_path)
    odd = run_dir(runs, ALPHA, "smoke", 3) / "run.json"
    odd.mkdir(parents=True)
    result = invoke(*report_args(tmp_path, runs))
    assert result.exit_code == 0, result.output
    assert any(p.startswith(f"{odd}: not a file") for p in summary(tmp_path)["problems"])


def test_an_unreadable_run_dir_is_named_by_report_and_plan(tmp_path, monkeypatch, no_training):
    runs = make_runs(tmp_path)
    blocked = run_dir(runs, ALPHA, "smoke", 1)
    real_scandir = os.scandir

    def scandir(path="."):  # what a directory without read permission does (root ignores chmod)
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    before = snapshot(runs)
    result = invoke(*report_args(tmp_path, runs))
    assert result.exit_code == 0, result.output
    assert f"{blocked}: unreadable directory (Permission denied)" in summary(tmp_path)["problems"][0]
    assert alpha_smoke_n(tmp_path) == 2
    dry = invoke(*run_args(runs, "--dry-run"))
    assert dry.exit_code == 0 and f"blocked toy/alpha  smoke  seed 1  ({blocked}: cannot be read" in dry.output
    refused = invoke(*run_args(runs))
    assert refused.exit_code == 2 and "cannot be read" in refused.output
    assert snapshot(runs) == before


# ---- what `run` returns ----------------------------------------------------------------------

def _fail_all(spec, **kwargs):
    raise RuntimeError("CUDA out of memory")


def _fail_seed_1(spec, **kwargs):
    if spec.seed == 1:
        raise RuntimeError("CUDA out of memory")
    return fake_result()


@pytest.mark.parametrize("trainer,code,closing", [(_fail_all, 1, "3 of 3 runs failed"),
                                                   (_fail_seed_1, 1, "1 of 3 runs failed"),
                                                   (lambda spec, **kw: fake_result(), 0, "0 of 3 runs failed")])
def test_run_exits_1_when_a_run_failed_with_a_closing_count(tmp_path, monkeypatch, trainer, code, closing):
    monkeypatch.setattr(audit.launch, "train_in_process", trainer)
    runs = tmp_path / "runs"
    result = invoke(*run_args(runs))
    assert result.exit_code == code, result.output
    assert result.output.rstrip().splitlines()[-1] == closing
    records, problems = read_records(runs)
    assert len(records) == 3 and problems == []  # every failure is recorded with its reason
    assert all(r.error == "RuntimeError: CUDA out of memory" for r in records if r.status == "failed")


def test_run_with_cuda_missing_is_bad_environment(tmp_path, monkeypatch, no_training):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke(*run_args(tmp_path / "runs")[:-2], "--device", "cuda")
    assert result.exit_code == 2 and "--device cuda: torch sees no CUDA device" in result.output
    assert not list((tmp_path).rglob("run.json"))


def test_run_with_a_data_cache_that_is_a_file_is_bad_environment(tmp_path, no_training):
    cache = tmp_path / "cache"
    cache.write_text("not a directory")
    result = invoke(*run_args(tmp_path / "runs", "--data-cache", cache))
    assert result.exit_code == 2 and f"--data-cache: {cache} is not a directory" in result.output
    assert not list(tmp_path.rglob("run.json")) and cache.read_text() == "not a directory"


def test_run_with_the_same_claim_twice_plans_it_once(tmp_path):
    result = invoke(*run_args(tmp_path / "runs", "--claim", ALPHA, "--dry-run"))
    assert result.exit_code == 0 and "plan: 3 runs (3 new)" in result.output
    assert result.output.count("toy/alpha  smoke  seed 0") == 1


# ---- a run with 0 optimizer steps ------------------------------------------------------------

def test_a_run_with_0_steps_is_failed_with_its_reason(tmp_path):
    registry = load_registry([CLAIMS])
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path, claim_ids=[ALPHA])[0]
    record = run_one(spec, lambda s: fake_result(steps=0))
    assert record.status == "failed" and record.error.startswith("0 optimizer steps: 4 training examples")
    assert "global batch of 8" in record.error
    assert assess(spec).state == "retry"
    assert build_record(spec, fake_result(steps=None), started="a", ended="b")["status"] == "failed"
    assert build_record(spec, fake_result(steps=1), started="a", ended="b")["status"] == "completed"


def test_0_step_runs_are_not_counted_in_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(audit.launch, "train_in_process", lambda spec, **kw: fake_result(steps=0))
    runs = tmp_path / "runs"
    result = invoke(*run_args(runs))
    assert result.exit_code == 1 and result.output.rstrip().endswith("3 of 3 runs failed")
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    entry = next(c for c in summary(tmp_path)["claims"] if c["id"] == ALPHA)
    assert [(r["n"], r["failed"]) for r in entry["results"]] == [(0, 3)]


def _sudoku_4x4_rows(count: int):
    solved = "1234341221434321"
    for k in range(count):
        question = "".join("0" if (i + k) % 3 == 0 else c for i, c in enumerate(solved))
        yield ("test", question, solved, 0)


def test_a_csv_with_fewer_rows_than_train_size_trains_0_steps_and_fails(tmp_path):
    from trm.data.hub_csv import write_hub_csv

    data = tmp_path / "hub"
    data.mkdir()
    write_hub_csv(data / "train.csv", _sudoku_4x4_rows(2))
    write_hub_csv(data / "test.csv", _sudoku_4x4_rows(4))
    claims = yaml.safe_load(CLAIMS.read_text())
    alpha = claims["claims"][0]
    alpha["profiles"]["smoke"]["data"].update(source="csv", path=str(data), num_aug=0, train_size=32)
    claims["claims"], claims["comparisons"] = [alpha], []
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(claims))
    result = invoke("run", tmp_path / "claims.yaml", "--runs-dir", tmp_path / "runs", "--seeds", "0",
                    "--threads", "1", "--device", "cpu", "--data-cache", tmp_path / "cache")
    assert result.exit_code == 1, result.output
    assert "0 optimizer steps: 2 training examples" in result.output and "1 of 1 runs failed" in result.output
    record = json.loads(next((tmp_path / "runs").rglob("run.json")).read_text())
    assert record["status"] == "failed" and record["steps"] == 0


# ---- fractions instead of percent ------------------------------------------------------------

def _external(runs: Path, name: str, values) -> Path:
    path = runs / "external" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"format_version": 1, "source": {"title": f"{name} runs"}, "comparable": True,
                                    "results": [{"claim": ALPHA, "values": list(values)}]}))
    return path


@pytest.mark.parametrize("values,warned", [([0.85, 0.9, 0.88], True), ([1.0, 0.5], True),
                                           ([0.85, 90.0], False), ([0.0, 0.0], False), ([85.0, 90.0], False)])
def test_an_external_file_of_fractions_is_warned(tmp_path, values, warned):
    runs = make_runs(tmp_path)
    path = _external(runs, "colleague", values)
    result = invoke(*report_args(tmp_path, runs))
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert (f"{path}: every value is at most 1" in markdown) is warned
    assert path.read_text().count("-") >= len(values)  # the file is read, never rewritten


@pytest.mark.parametrize("claimed,warned", [(0.9, True), (1.0, True), (0.0, False), (90.0, False)])
def test_a_claimed_fraction_is_warned(tmp_path, claimed, warned):
    claims = yaml.safe_load(CLAIMS.read_text())
    claims["claims"][0]["claimed"] = claimed
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims))
    runs = make_runs(tmp_path, claims=path)
    result = invoke("report", "--runs-dir", runs, "--claims", path, "--out", tmp_path / "reports")
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert (f"{path}: toy/alpha: claimed {claimed:g} is at most 1" in markdown) is warned


# ---- the Holm family is named ----------------------------------------------------------------

def _family_line(root: Path) -> str:
    markdown = (root / "reports" / "report.md").read_text()
    return next(line for line in markdown.splitlines() if line.startswith("- **The Holm families of this report.**"))


def test_the_holm_family_is_named_and_an_import_shows_in_it(tmp_path):
    runs = make_runs(tmp_path, values=(0.875, 0.9375, 0.8125), profile="paper")
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    assert "Claims: 1 member(s): toy/alpha / paper." in _family_line(tmp_path)
    before = (tmp_path / "reports" / "summary.json").read_text()
    _external(runs, "colleague", [88.0, 91.0, 90.0])
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    assert "Claims: 2 member(s): toy/alpha / paper; toy/alpha / colleague." in _family_line(tmp_path)
    assert json.loads(before)["inputs"]  # the earlier summary listed its inputs


def test_the_holm_family_is_empty_for_proxies_only(tmp_path):
    runs = make_runs(tmp_path)
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    line = _family_line(tmp_path)
    # proxies are never judged against claims, and an uncalibrated proxy (no band) ranks nothing
    assert "Claims: 0 member(s)." in line and "Comparisons: 0 member(s)." in line


def test_a_single_run_is_not_a_member(tmp_path):
    runs = make_runs(tmp_path, values=(0.875,), profile="paper")
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    assert "Claims: 0 member(s)." in _family_line(tmp_path)


# ---- report --check names the changed input; a replaced record is kept aside ------------------

def _edit_one_digit(path: Path) -> None:
    text = path.read_text()
    at = text.index('"wall_time_s": 36.0') + len('"wall_time_s": 3')
    path.write_text(text[:at] + "7" + text[at + 1:])


@pytest.mark.parametrize("change", ["record", "external", "claims", "new record", "removed record"])
def test_report_check_names_the_input_that_changed(tmp_path, change):
    claims = tmp_path / "claims.yaml"
    shutil.copy(CLAIMS, claims)
    runs = make_runs(tmp_path, claims=claims)
    external = _external(runs, "colleague", [60.0, 70.0])
    args = ["report", "--runs-dir", runs, "--claims", claims, "--out", tmp_path / "reports"]
    assert invoke(*args).exit_code == 0
    committed = snapshot(tmp_path / "reports")
    record = run_dir(runs, ALPHA, "smoke", 1) / "run.json"
    if change == "record":
        _edit_one_digit(record)
        named = f"{record}: content changed"
    elif change == "external":
        external.write_text(external.read_text().replace("70.0", "71.0"))
        named = f"{external}: content changed"
    elif change == "claims":
        claims.write_text(claims.read_text().replace("alpha beats beta", "alpha beats beta!"))
        named = f"{claims}: content changed"
    elif change == "new record":
        registry = load_registry([claims])
        spec = expand_plan(registry, profile="smoke", seeds=[5], runs_dir=runs, claim_ids=[ALPHA])[0]
        run_one(spec, lambda s: fake_result())
        named = f"{spec.directory / 'run.json'}: new input"
    else:
        shutil.rmtree(record.parent)
        named = f"{record}: input gone"
    result = invoke(*args, "--check")
    assert result.exit_code == 1 and named in result.output, result.output
    assert snapshot(tmp_path / "reports") == committed  # --check writes nothing


def test_a_failed_record_is_kept_aside_when_its_retry_replaces_it(tmp_path, monkeypatch):
    registry = load_registry([CLAIMS])
    spec = expand_plan(registry, profile="smoke", seeds=[0], runs_dir=tmp_path / "runs", claim_ids=[ALPHA])[0]
    run_one(spec, lambda s: fake_result(steps=0))
    failed = (spec.directory / "run.json").read_bytes()
    monkeypatch.setattr(audit.launch, "train_in_process", lambda s, **kw: fake_result())
    result = invoke(*run_args(tmp_path / "runs")[:-4], "--seeds", "0", "--threads", "1", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (spec.directory / "run.superseded-1.json").read_bytes() == failed
    assert json.loads((spec.directory / "run.json").read_text())["status"] == "completed"


# ---- plan-seeds uses the profile asked for ---------------------------------------------------

def plan_seeds(runs: Path, *extra):
    return invoke("plan-seeds", "--claim", ALPHA, "--claims", CLAIMS, "--runs-dir", runs, *extra)


def test_plan_seeds_refuses_the_paper_claim_with_only_proxy_runs(tmp_path):
    runs = make_runs(tmp_path)
    before = snapshot(runs)
    result = plan_seeds(runs)
    assert result.exit_code == 2 and "toy/alpha: sd: no source 'paper'" in result.output
    assert "sources with a spread: smoke (n = 3" in result.output and result.output.count("\n") == 1
    assert snapshot(runs) == before


def test_plan_seeds_uses_the_profile_asked_for_and_says_which(tmp_path):
    runs = make_runs(tmp_path, values=(0.5, 0.75, 1.0))  # smoke: SD 25 pp
    make_runs(tmp_path, values=(0.875, 0.9375), profile="paper")  # paper: SD 4.42 pp, fewer runs
    paper = plan_seeds(runs)
    assert paper.exit_code == 0 and "(paper (n = 2))" in paper.output and "seed SD 4.42 pp" in paper.output
    smoke = plan_seeds(runs, "--profile", "smoke")
    assert smoke.exit_code == 0 and "seed SD 25 pp (smoke (n = 3))" in smoke.output


def test_plan_seeds_for_a_profile_without_runs_is_refused(tmp_path):
    runs = make_runs(tmp_path)
    result = plan_seeds(runs, "--profile", "nightly")
    assert result.exit_code == 2 and "no source 'nightly'" in result.output and "--sd" in result.output


# ---- report --runs-dir with a typo -----------------------------------------------------------

def test_report_with_a_missing_runs_dir_is_bad_input_and_keeps_the_report(tmp_path):
    runs = make_runs(tmp_path)
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    committed = snapshot(tmp_path / "reports")
    for extra in ((), ("--check",)):
        result = invoke(*report_args(tmp_path, tmp_path / "rnus", *extra))
        assert result.exit_code == 2 and f"--runs-dir: {tmp_path / 'rnus'}: no such directory" in result.output
    assert snapshot(tmp_path / "reports") == committed


def test_report_from_an_empty_runs_dir_does_not_replace_a_report_without_force(tmp_path):
    runs = make_runs(tmp_path)
    assert invoke(*report_args(tmp_path, runs)).exit_code == 0
    committed = snapshot(tmp_path / "reports")
    (tmp_path / "empty").mkdir()
    result = invoke(*report_args(tmp_path, tmp_path / "empty"))
    assert result.exit_code == 2 and "holds no run records and no external results" in result.output
    assert "--force" in result.output and snapshot(tmp_path / "reports") == committed
    forced = invoke(*report_args(tmp_path, tmp_path / "empty", "--force"))
    assert forced.exit_code == 0 and summary(tmp_path)["problems"] == []


def test_a_first_report_from_an_empty_runs_dir_is_written(tmp_path):
    (tmp_path / "runs").mkdir()
    result = invoke(*report_args(tmp_path, tmp_path / "runs"))
    assert result.exit_code == 0 and (tmp_path / "reports" / "report.md").is_file()


# ---- comparisons that cannot be right --------------------------------------------------------

def _claims_with(tmp_path: Path, edit) -> Path:
    claims = yaml.safe_load(CLAIMS.read_text())
    edit(claims)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(claims))
    return path


@pytest.mark.parametrize("edit,named", [
    (lambda c: c["comparisons"].append({"id": "toy/beta-vs-alpha", "a": BETA, "b": ALPHA, "statement": "beta wins"}),
     "toy/beta-vs-alpha: states toy/beta > toy/alpha, but"),
    (lambda c: c["claims"][1].update(benchmark="toy-maze"), "toy/alpha-vs-beta: b: toy/beta has benchmark 'toy-maze'"),
    (lambda c: c["comparisons"].append({"id": "toy/alpha-vs-beta-2", "a": BETA, "b": ALPHA, "statement": "no"}),
     "toy/alpha-vs-beta-2: states toy/beta > toy/alpha, but"),
])
def test_contradictory_or_mismatched_comparisons_are_refused(tmp_path, edit, named):
    path = _claims_with(tmp_path, edit)
    before = path.read_bytes()
    for args in (("claims", path, "--no-count"), ("run", path, "--runs-dir", tmp_path / "runs", "--dry-run")):
        result = invoke(*args)
        assert result.exit_code == 2 and f"{path}: {named}" in result.output, result.output
        assert result.output.count("\n") == 1
    assert path.read_bytes() == before and not (tmp_path / "runs").exists()


def test_arms_on_different_metrics_are_refused():
    """(A Sudoku task measures exact accuracy only, so the metric case is shown on the loaded claims.)"""
    import dataclasses

    from audit.errors import InputError
    from audit.claim_rules import check_comparisons

    registry = load_registry([CLAIMS])
    alpha, beta = registry.claim(ALPHA), dataclasses.replace(registry.claim(BETA), metric="pass@2")
    with pytest.raises(InputError, match="toy/alpha-vs-beta: b: toy/beta has metric 'pass@2', toy/alpha has "
                                         "'exact_accuracy': the arms must measure the same thing"):
        check_comparisons(list(registry.comparisons), {ALPHA: alpha, BETA: beta})
    check_comparisons(list(registry.comparisons), {ALPHA: alpha, BETA: registry.claim(BETA)})


def test_import_warns_of_fractions_and_says_the_holm_family_changes(tmp_path):
    runs = make_runs(tmp_path)
    source = _external(tmp_path / "incoming", "fractions", [0.85, 0.9])
    before = snapshot(runs)
    result = invoke("import", source, "--claims", CLAIMS, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    target = runs / "external" / "fractions.yaml"
    assert f"warning: {target}: every value is at most 1" in result.output
    assert "join the report's Holm family" in result.output
    assert target.read_bytes() == source.read_bytes() and set(before) <= set(snapshot(runs))
