"""Issue 5 / issue 10.4: several `trm-audit run` processes on one plan train each run exactly once
(counted by a wrapper around trm.train.train in each child), and a report taken while runs are
being written reads only complete records."""
from __future__ import annotations

import collections
import json
import subprocess
import time

from click.testing import CliRunner

import reliability_kit as kit
from audit.cli import cli
from audit.records import read_records


def test_two_run_processes_on_the_same_plan_train_each_seed_once(reference_plan, tmp_path):
    count = tmp_path / "trainings.txt"
    args = kit.plan_args(tmp_path / "runs", tmp_path / "cache")  # one data cache, built by whoever is first
    children = [subprocess.Popen(kit.trm_audit_command(args, count=count), cwd=tmp_path, env=kit.child_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err[-2000:] for _, err in outputs]
    trainings = collections.Counter(line.split()[1] for line in count.read_text().splitlines())
    runs = {str((tmp_path / "runs" / name).resolve()) for name in reference_plan.signatures}
    assert trainings == {run: 1 for run in runs}, "a seed was trained twice, or not at all"
    signatures = kit.plan_signatures(tmp_path / "runs")
    for run, expected in reference_plan.signatures.items():
        assert kit.differences(expected, signatures[run]) == [], run
    assert kit.torn_files(tmp_path / "runs") == []


def test_a_report_during_training_reads_only_complete_records(reference_plan, tmp_path):
    """Poll read_records while a plan trains, and write a full report once the first run is done:
    every record seen is complete and final, none is reported as a problem."""
    runs = tmp_path / "runs"
    child = subprocess.Popen(kit.trm_audit_command(kit.plan_args(runs, tmp_path / "cache")), cwd=tmp_path,
                             env=kit.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, reports = set(), 0
    try:
        while child.poll() is None:
            records, problems = read_records(runs)
            assert problems == []
            for record in records:
                run = str(record.path.parent.relative_to(runs))
                assert kit.differences(reference_plan.signatures[run], kit.record_signature(record.path.parent)) == []
                seen.add(run)
            if records and reports == 0:
                result = CliRunner().invoke(cli, ["report", "--runs-dir", str(runs), "--claims", str(kit.KILL_PLAN),
                                                  "--out", str(tmp_path / "reports")])
                assert result.exit_code == 0, result.output
                summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
                assert summary["problems"] == []
                assert [r["n"] for r in summary["claims"][0]["results"]] in ([1], [2])
                reports += 1
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.kill()
        _, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr
    assert reports == 1 and len(read_records(runs)[0]) == 2
