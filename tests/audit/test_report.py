"""The report: content from fixture runs, byte-identical regeneration, --check, HTML, and the
reproduction report's table and comparison from runs/external/alphaxiv-2025.yaml alone."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.registry import load_registry
from audit.render import fmt_p, fmt_pct, markdown_to_html
from audit.figures import claim_curves, read_curves, run_status
from audit.report import check_report, config_diff, first_difference, generate_report, load_inputs, write_report

FIXTURE = Path(__file__).parents[1] / "data" / "report_runs"
REPO = Path(__file__).parents[2]
CURRENT = "@current"  # fixture placeholder: the profile's config (hash) at the run's seed


@pytest.fixture
def toy(tmp_path) -> dict:
    """A copy of tests/data/report_runs with each '@current' record made current for today's config code.

    The fixture stores placeholders instead of hashes so that a new config field does not silently
    turn every fixture run stale; the stale run carries a hash no profile has.
    """
    shutil.copytree(FIXTURE, tmp_path / "toy")
    claims, runs = tmp_path / "toy" / "claims", tmp_path / "toy" / "runs"
    registry = load_registry([claims])
    for path in sorted(runs.rglob("run.json")):
        record = json.loads(path.read_text())
        config = registry.claim(record["claim_id"]).profiles[record["profile"]].config_for(record["seed"])
        if record["config"] == CURRENT:
            record["config"] = config.to_dict()
            if record["config_hash"] != CURRENT:  # the stale run was made with another learning rate
                record["config"]["train"]["lr"] *= 2
        if record["config_hash"] == CURRENT:
            record["config_hash"] = config.config_hash()
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return {"claims": claims, "runs": runs, "out": tmp_path / "reports"}


def set_final(path: Path, percent: float) -> None:
    """Change a record's final evaluation consistently: its percent, fraction and counts are one number."""
    record = json.loads(path.read_text())
    final = record["final"]
    final["value"], final["metrics"][record["metric"]] = percent, percent / 100
    final["correct"] = round(percent / 100 * final["total"])
    path.write_text(json.dumps(record))


def invoke(*args: str):
    return CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)


def report_args(toy: dict, out: Path | None = None) -> list[str]:
    return ["--runs-dir", str(toy["runs"]), "--claims", str(toy["claims"]), "--out", str(out or toy["out"])]


def table_row(markdown: str, *cells: str) -> str:
    """The one table line that starts with these cells."""
    prefix = "| " + " | ".join(cells) + " |"
    rows = [line for line in markdown.splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, f"expected one row starting {prefix!r}, found {rows}"
    return rows[0]


def test_report_contains_each_claim_verdict_and_comparison(toy):
    result = invoke(*report_args(toy))
    assert result.exit_code == 0, result.output
    md = (toy["out"] / "report.md").read_text()
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert [h.split(".")[0] for h in headings] == [f"## {i}" for i in range(1, 10)]
    # verdicts under the rule, as the summary decided them
    mlp_paper = table_row(md, "toy-sudoku/trm-mlp", "exact_accuracy", "80.00", "paper")
    # rule v3: within the tolerance, but three seeds at SD 1.25 cannot show equivalence (v2: REPRODUCED)
    assert "80.23 ± 1.25 SD (3 seeds)" in mlp_paper and "**CONSISTENT**" in mlp_paper
    assert "would show equivalence" in mlp_paper
    att_paper = table_row(md, "toy-sudoku/trm-att", "exact_accuracy", "70.00", "paper")
    assert "60.20 ± 0.28 SD (2 seeds)" in att_paper and "1 stale" in att_paper and "**NOT_REPRODUCED**" in att_paper
    smoke = table_row(md, "toy-sudoku/trm-mlp", "exact_accuracy", "80.00", "smoke (proxy)")
    assert "45.00 (1 seed)" in smoke and "1 failed" in smoke and "**NOT_COMPARABLE**" in smoke
    external = table_row(md, "toy-sudoku/trm-mlp", "exact_accuracy", "80.00", "toy-ext")
    assert "78.50 ± 2.55 (meaning of ± not stated; runs not stated)" in external and "**CONSISTENT**" in external
    maze = table_row(md, "toy-maze/hrm", "exact_accuracy", "51.00", "toy-ext")
    assert "51.00 ± 1.41 SD (2 seeds)" in maze and "**CONSISTENT**" in maze
    # the claim's other published value gets its own row, judged by the same rule
    other = table_row(md, "toy-maze/hrm", "exact_accuracy", "vs 50.00 (the toy paper's abstract)", "toy-ext")
    assert "**CONSISTENT**" in other and "d = +1.00 pp" in other
    summary = json.loads((toy["out"] / "summary.json").read_text())
    verdicts = {(c["id"], r["source"]): r["verdict"] for c in summary["claims"] for r in c["results"]}
    assert verdicts[("toy-sudoku/trm-att", "paper")] == "NOT_REPRODUCED"
    # the comparison on each source present on both arms, with its verdict; the smoke one at proxy scale
    statement = "On toy Sudoku the MLP mixer beats attention (80.0 vs 70.0)."
    paper_verdict = table_row(md, "toy-sudoku/mlp-vs-att", statement, "paper", "80.23 (3)", "60.20 (2)")
    assert "**SUPPORTED**" in paper_verdict and "| 1.00 |" in paper_verdict
    smoke_verdict = table_row(md, "toy-sudoku/mlp-vs-att", statement, "smoke (proxy)")
    assert "**INCONCLUSIVE** at proxy scale" in smoke_verdict and "Welch needs at least 2 seeds" in smoke_verdict
    paper_cmp = table_row(md, "toy-sudoku/mlp-vs-att", "paper")
    assert "+20.03" in paper_cmp
    smoke_cmp = table_row(md, "toy-sudoku/mlp-vs-att", "smoke (proxy)")
    assert "+5.00" in smoke_cmp
    assert "**smoke (proxy)**: two-proportion z-test on the two single evaluations' counts: a − b = +5.00 pp" in md
    # failed and stale runs are listed, with the failure's reason
    assert table_row(md, "toy-sudoku/trm-mlp", "smoke", "1", "failed: non-finite loss nan at step 12")
    assert table_row(md, "toy-sudoku/trm-att", "paper", "2", "stale", "70.00 (100)")
    # deviations: computed from the configs and declared
    assert "`model.hidden_size` 32 → 16" in md and "width 16 instead of 32" in md
    assert "batch 32 instead of 16" in md
    # hardware/cost, externals with citation, registry notes
    assert table_row(md, "toy-sudoku/trm-mlp", "paper", "1x toy GPU; 1 h", "3", "1x cpu")
    assert '"A toy reproduction", A. Person, a workshop, 2025, https://example.org/toy' in md
    assert "50.00 (the toy paper's abstract)" in md
    plots = sorted(p.name for p in (toy["out"] / "plots").glob("*.png"))
    assert plots == ["claims-toy-maze.png", "claims-toy-sudoku.png", "claims.png", "comparisons.png",
                     "curves-toy-sudoku--trm-att.png", "curves-toy-sudoku--trm-mlp.png"]
    for name in plots:
        assert f"(plots/{name})" in md


def test_regeneration_is_byte_identical(toy, tmp_path):
    first = generate_report(toy["runs"], [toy["claims"]], tmp_path / "a", html=True)
    second = generate_report(toy["runs"], [toy["claims"]], tmp_path / "b", html=True)
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], name
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first_difference(tmp_path / "a", tmp_path / "b") is None


def test_a_report_written_by_another_process_checks_clean(toy):
    """Another interpreter with another hash seed writes the report; this one regenerates the same bytes,
    PNGs included (nothing depends on set order, the process or the time)."""
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", "from audit.cli import main; main()", "report", *report_args(toy)],
                   env=env, check=True, capture_output=True)
    assert check_report(toy["runs"], [toy["claims"]], toy["out"]) is None


def test_check_passes_on_a_fresh_report_and_fails_on_a_changed_record(toy):
    assert invoke(*report_args(toy)).exit_code == 0
    passed = invoke(*report_args(toy), "--check")
    assert passed.exit_code == 0, passed.output
    assert "up to date" in passed.output
    record = toy["runs"] / "toy-sudoku" / "trm-mlp" / "paper" / "seed-0" / "run.json"
    set_final(record, 60.0)
    failed = invoke(*report_args(toy), "--check")
    assert failed.exit_code == 1
    # the input that changed is named (its checksum in summary.json), not the first report line it moved
    assert "report is stale" in failed.output and f"{record}: content changed" in failed.output
    assert load_inputs(toy["runs"], [toy["claims"]]).problems == ()  # read, not rejected: its value changed


def test_check_names_a_missing_extra_or_changed_plot(toy, tmp_path):
    fresh = tmp_path / "fresh"
    files = generate_report(toy["runs"], [toy["claims"]], fresh)

    def committed(change) -> Path:
        copy = tmp_path / f"committed-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(fresh, copy)
        change(copy / "plots")
        return copy

    def remove(plots):
        (plots / "claims-toy-maze.png").unlink()

    def add(plots):
        (plots / "old.png").write_bytes(b"not a plot")

    def alter(plots):
        (plots / "claims.png").write_bytes(b"changed")

    assert first_difference(committed(remove), fresh).endswith(
        "claims-toy-maze.png: missing (the fresh report has this plot)")
    assert first_difference(committed(add), fresh).endswith("old.png: not produced by a fresh report (stale plot)")
    assert first_difference(committed(alter), fresh).endswith("claims.png: image differs from a fresh regeneration")
    # writing a report removes the plots an earlier one had and this one does not
    stale_dir = committed(add)
    write_report(files, stale_dir)
    assert not (stale_dir / "plots" / "old.png").exists() and first_difference(stale_dir, fresh) is None


def test_html_rendering_is_self_contained(toy):
    assert invoke(*report_args(toy), "--format", "html").exit_code == 0
    html = (toy["out"] / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6
    assert 'src="plots/' not in html
    assert "<th>claim</th>" in html and "<strong>NOT_REPRODUCED</strong>" in html
    assert invoke(*report_args(toy), "--check").exit_code == 0  # html is regenerated and compared too
    set_final(toy["runs"] / "toy-sudoku" / "trm-att" / "smoke" / "seed-0" / "run.json", 41.0)
    assert invoke(*report_args(toy)).exit_code == 0  # a plain run keeps the existing report.html current
    fresh = (toy["out"] / "report.html").read_text()
    assert fresh != html and "41.00 (1 seed)" in fresh
    assert invoke(*report_args(toy), "--check").exit_code == 0


def test_bad_claims_path_is_exit_2_with_one_line(toy, tmp_path):
    result = invoke("--runs-dir", str(toy["runs"]), "--claims", str(tmp_path / "nope"), "--out", str(toy["out"]))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "nope" in result.output


def test_curves_leave_out_stale_runs_and_mark_the_selected_evaluation(toy):
    inputs = load_inputs(toy["runs"], [toy["claims"]])
    from audit.aggregate import build_summary

    summary = build_summary(inputs.registry, inputs.records, inputs.externals)
    curves = claim_curves(inputs.registry, inputs.records, run_status(summary))
    att = {s.source: s for s in curves["toy-sudoku/trm-att"]}
    assert [r.seed for r in att["paper"].runs] == [0, 1]  # seed 2 is stale
    mlp_smoke = {s.source: s for s in curves["toy-sudoku/trm-mlp"]}["smoke"]
    assert [r.seed for r in mlp_smoke.runs] == [0, 1]  # the failed run's curve is shown
    failed = mlp_smoke.runs[1]
    assert failed.test == ((), ()) and failed.selected_step is None and len(failed.loss[0]) == 12
    run = att["paper"].runs[0]
    assert run.selected_step == run.final_step == 100 and run.best_step == 100
    assert run.test[0] == (25, 50, 75, 100) and run.test[1] == pytest.approx((30.0, 50.0, 58.0, 60.0))


def test_read_curves_converts_fractions_to_percent_and_tolerates_a_missing_file(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,split,metric,value\n1,train,exact_accuracy,0.25\n"
                                          "1,train,lm_loss,1.5\n2,train,lm_loss,nan\n2,test,pass@2,0.5\n"
                                          "2,test,exact_accuracy,0.1\n")
    train, test, loss = read_curves(tmp_path, "pass@2")
    assert train == {"steps": (1,), "values": (25.0,)}
    assert test == {"steps": (2,), "values": (50.0,)}
    assert loss == {"steps": (1,), "values": (1.5,)}  # the non-finite loss is dropped
    assert read_curves(tmp_path / "missing", "pass@2") == ({}, {}, {})


def test_config_diff_lists_changed_keys_and_ignores_the_seed():
    paper = {"model": {"hidden_size": 512, "mixer": "mlp"}, "train": {"lr": 1e-4}, "seed": 0}
    other = {"model": {"hidden_size": 64, "mixer": "mlp"}, "train": {"lr": 1e-4, "ema": False}, "seed": 3}
    assert config_diff(paper, other) == [("model.hidden_size", 512, 64), ("train.ema", None, False)]
    assert config_diff(paper, paper) == []


def test_first_difference_names_the_line(tmp_path):
    for name, text in (("a", "x\ny\n"), ("b", "x\nz\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.md").write_text(text)
        (tmp_path / name / "summary.json").write_text("{}\n")
    message = first_difference(tmp_path / "a", tmp_path / "b")
    assert message == f"{tmp_path / 'a' / 'report.md'}: line 2 differs: committed 'y', fresh 'z'"


def test_formats_are_fixed():
    assert fmt_pct(None) == "—" and fmt_pct(79.369999) == "79.37" and fmt_pct(5, 3) == "5.000"
    assert fmt_p(0.0028882) == "0.0029" and fmt_p(4.168e-06) == "4.2e-06" and fmt_p(0.0) == "0.0e+00"


def test_markdown_to_html_handles_the_template_subset():
    md = ("# Title\n\nSome *emphasis*, **bold**, `a<b` and [a link](https://x.org).\n\n"
          "| a | b |\n|---|---|\n| 1 \\| 2 | <x> |\n\n- one\n  continued\n- two\n\n![fig](plots/f.png)\n")
    html = markdown_to_html(md, {"plots/f.png": b"\x89PNG"}, title="t")
    assert "<h1>Title</h1>" in html
    assert "<em>emphasis</em>" in html and "<strong>bold</strong>" in html and "<code>a&lt;b</code>" in html
    assert '<a href="https://x.org">a link</a>' in html
    assert "<td>1 | 2</td><td>&lt;x&gt;</td>" in html
    assert "<li>one continued</li>" in html and "<li>two</li>" in html
    assert 'src="data:image/png;base64,iVBORw==' in html


def test_alphaxiv_alone_reproduces_the_reproduction_report(tmp_path):
    """Only runs/external/alphaxiv-2025.yaml: its claims-vs-achieved table and H3L6 > H3L4, under rule v3.

    No run counts are stated, so nothing can be tested: within the tolerance is CONSISTENT (v2 said
    REPRODUCED), outside it INCONCLUSIVE, and H3L6 > H3L4 INCONCLUSIVE however its ± is read."""
    runs = tmp_path / "runs"
    (runs / "external").mkdir(parents=True)
    shutil.copy(REPO / "runs" / "external" / "alphaxiv-2025.yaml", runs / "external")
    out = tmp_path / "reports"
    result = invoke("--runs-dir", str(runs), "--claims", str(REPO / "claims"), "--out", str(out))
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    published = {  # (claim, claimed, source) -> (mean ± pm, verdict)
        ("maze-hard/trm-att", "85.30", "alphaxiv-2025"): ("83.67 ± 2.28", "CONSISTENT"),
        ("arc-agi-1/trm-att", "44.60", "alphaxiv-2025"): ("43.00 ± 0.16", "CONSISTENT"),
        ("arc-agi-1/trm-att-h3l6", "none", "alphaxiv-2025"): ("52.75 ± 3.09", "NO_CLAIM"),
        ("sudoku-extreme/trm-att", "74.70", "alphaxiv-2025 (50k epochs)"): ("69.69 ± 0.14", "INCONCLUSIVE"),
        ("sudoku-extreme/trm-att", "74.70", "alphaxiv-2025 (60k epochs)"): ("73.66 ± 0.13", "CONSISTENT"),
        ("sudoku-extreme/trm-mlp", "87.40", "alphaxiv-2025 (50k epochs)"): ("79.37 ± 0.12", "INCONCLUSIVE"),
        ("sudoku-extreme/trm-mlp", "87.40", "alphaxiv-2025 (60k epochs)"): ("75.57 ± 0.13", "INCONCLUSIVE"),
    }
    claims = load_registry([REPO / "claims"]).claims
    for (claim, claimed, source), (figure, verdict) in published.items():
        metric = next(c.metric for c in claims if c.id == claim)
        row = table_row(md, claim, metric, claimed, source)
        assert figure in row and f"**{verdict}**" in row
    (statement,) = [c.statement for c in load_registry([REPO / "claims"]).comparisons
                    if c.id == "arc-agi-1/h3l6-vs-h3l4"]
    comparison = table_row(md, "arc-agi-1/h3l6-vs-h3l4", statement, "alphaxiv-2025")
    assert "52.75 (?) | 43.00 (?) | **INCONCLUSIVE**" in comparison and "n_a = not stated" in comparison
    assert table_row(md, "arc-agi-1/h3l6-vs-h3l4", "alphaxiv-2025", "+9.75")
    # read as single-evaluation Wilson half-widths, the report's own test: z-test p < 0.005
    wilson = re.search(r"### arc-agi-1/h3l6-vs-h3l4\n(.*?)\n### ", md, re.S).group(1)
    assert "| Wilson 95% of one evaluation | 1 (assumed) | +9.75 | 2.76 | 0.0029 |" in wilson
    # the ± forensics: Sudoku's ± are single-run Wilson half-widths at 422,786 test puzzles
    assert table_row(md, "alphaxiv-2025 (50k epochs)", "sudoku-extreme/trm-mlp", "0.12", "0.12 at N = 422,786",
                     "**yes**")
    assert table_row(md, "alphaxiv-2025", "arc-agi-1/trm-att", "0.16", "4.83 at N = 400", "no")
