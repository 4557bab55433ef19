"""The reliability run of issue 10: faults and bad input, many more of them than CI tries, and a table.

    python scripts/reliability.py [--quick] [--seed 0] [--out reports/reliability.md]

Scenarios (tests/reliability/ holds the same checks at CI size; the fault tools are in
tests/reliability/reliability_kit.py, the bad inputs in tests/reliability/bad_inputs.py):

1a  SIGKILL `trm-audit run` at random points of a smoke plan (chains of kills on one runs
    directory, then a plain rerun); 1b  SIGKILL at each kind of write and phase (kit.FAULTS,
    several call counts each), then a rerun; 1c  SIGKILL of `run --parallel 2` (its workers must
    die with it). All compared bit for bit with the uninterrupted plan.
2   torn and corrupt files, 5 divergence and resource faults, 6 stale results, 8 the records and
    exit codes of issue 16: the pytest cases of tests/reliability (each case is one fault with its
    assertions).
3   the bad-input catalogue, every case. 4  K `trm-audit run` processes on one plan, each run
    trained once; `read_records` polled while a plan trains. 7  determinism per model family.

Columns: tried (faults that took effect, cases, runs), handled (ended as the issue asks), lost data
(runs whose final record is missing or differs from the uninterrupted one, or existing files
changed by a refused input; for the pytest rows every failed case counts, which over-counts).
Prints the table and writes it, with the command and the code version, to --out.
"""
from __future__ import annotations

import argparse
import collections
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
sys.path.insert(0, str(REPO))

import bad_inputs  # noqa: E402
import reliability_kit as kit  # noqa: E402

# Call counts at which each fault fires (in one process of the two-seed kill plan: 24 updates per
# seed, checkpoints at steps 5, 10, 12, 15, 20, 24, two evaluations, 26 row blocks per seed).
FAULT_PLAN = {
    "train-step": (3, 17, 30),
    "evaluation": (1, 3),
    "checkpoint-write": (1, 4),
    "checkpoint-rename": (2, 6),
    "checkpoint-cleanup": (3, 8),
    "metrics-row": (5, 40),
    "record-write": (1, 2),
    "record-done": (1,),
    "data-build": (1,),
}
QUICK_FAULT_PLAN = {name: counts[:1] for name, counts in FAULT_PLAN.items()}


@dataclass
class Row:
    scenario: str
    tried: int
    handled: int
    lost: int
    note: str = ""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def lost_runs(reference: dict, runs_dir: Path) -> list[str]:
    """Runs of the reference whose record is missing or differs bit for bit (clocks aside)."""
    try:
        got = kit.plan_signatures(runs_dir)
    except (OSError, ValueError) as err:  # an unreadable run.json: every run counts as lost
        return [f"{run}: {err}" for run in reference]
    return [run for run, expected in reference.items() if run not in got or kit.differences(expected, got[run])]


def uninterrupted(work: Path) -> tuple[dict, int]:
    outcome = kit.trm_audit(kit.plan_args(work / "runs", work / "cache"), work)
    if outcome.returncode != 0:
        raise SystemExit(f"the uninterrupted plan failed:\n{outcome.stderr}")
    return kit.plan_signatures(work / "runs"), kit.metrics_rows(work / "runs")


def kill_at_random_points(work: Path, reference: dict, rows: int, chains: int, kills: int, rng: random.Random) -> Row:
    tried = handled = lost = 0
    notes = []
    for chain in range(chains):
        root = work / f"chain-{chain}"
        args = kit.plan_args(root / "runs", root / "cache")
        landed, tracebacks = 0, 0
        for threshold in sorted(rng.sample(range(5, rows - 5), kills)):
            outcome = kit.trm_audit_killed_when(args, root, lambda t=threshold: kit.metrics_rows(root / "runs") >= t)
            landed += outcome.killed
            tracebacks += outcome.traceback
        final = kit.trm_audit(args, root)
        missing = lost_runs(reference, root / "runs")
        torn = kit.torn_files(root / "runs")
        ok = final.returncode == 0 and not missing and not torn and not tracebacks
        tried += landed
        handled += landed if ok else 0
        lost += len(missing)
        if not ok:
            notes.append(f"chain {chain}: rc {final.returncode}, lost {missing}, torn {torn[:2]}")
        log(f"1a chain {chain}: {landed} kills landed, {'ok' if ok else 'FAILED'}")
    return Row("1a SIGKILL at random points, rerun", tried, handled, lost,
               f"{chains} chains of {kills} kills; " + ("; ".join(notes) or "all records bitwise equal"))


def kill_at_each_fault(work: Path, reference: dict, plan: dict) -> Row:
    tried = handled = lost = 0
    unfired, notes = [], []
    for name, counts in plan.items():
        for count in counts:
            fault = f"{name}:{count}"
            root = work / fault.replace(":", "-")
            args = kit.plan_args(root / "runs", root / "cache")
            outcome = kit.trm_audit(args, root, fault=fault)
            if not outcome.killed:
                unfired.append(fault)
                continue
            final = kit.trm_audit(args, root)
            missing = lost_runs(reference, root / "runs")
            ok = final.returncode == 0 and not missing and not kit.torn_files(root / "runs")
            tried += 1
            handled += ok
            lost += len(missing)
            if not ok:
                notes.append(f"{fault}: rc {final.returncode}, lost {missing}")
            log(f"1b {fault}: {'ok' if ok else 'FAILED'}")
    note = f"{len(plan)} kinds of fault ({', '.join(plan)})"
    if unfired:
        note += f"; did not fire: {', '.join(unfired)}"
    return Row("1b SIGKILL at each write/phase, rerun", tried, handled, lost, "; ".join([note, *notes]))


def kill_parallel_plan(work: Path, reference: dict, rows: int, trials: int, rng: random.Random) -> Row:
    """SIGKILL `run --parallel 2` at a random point: its workers must exit too, the rerun must finish."""
    from trm.host import threads_per_worker

    tried = handled = lost = 0
    notes = []
    same_threads = threads_per_worker(2) == 1  # workers on one thread each, like the reference
    for trial in range(trials):
        root = work / f"parallel-{trial}"
        args = kit.plan_args(root / "runs", root / "cache") + ["--parallel", "2"]
        threshold = rng.randrange(5, rows - 5)
        try:
            outcome = kit.trm_audit_killed_when(args, root, lambda: kit.metrics_rows(root / "runs") >= threshold,
                                                timeout=180)
        except subprocess.TimeoutExpired:
            tried += 1
            notes.append(f"trial {trial}: workers outlived the killed launcher")
            continue
        if not outcome.killed:
            continue
        tried += 1
        final = kit.trm_audit(args, root)
        missing = lost_runs(reference, root / "runs") if same_threads else \
            [run for run in reference if not (root / "runs" / run / "run.json").exists()]
        ok = final.returncode == 0 and not missing and not kit.torn_files(root / "runs")
        handled += ok
        lost += len(missing)
        log(f"1c parallel trial {trial}: {'ok' if ok else 'FAILED'}")
    return Row("1c SIGKILL of `run --parallel 2`, rerun", tried, handled, lost,
               "; ".join([f"{trials} random points; no worker outlived its launcher"
                          + ("" if same_threads else " (records checked complete, not bitwise: workers use "
                             "several threads here)"), *notes]))


def bad_input_catalogue(work: Path) -> Row:
    tried = handled = lost = 0
    notes = []
    for index, case in enumerate(bad_inputs.CASES):
        ok, problem = bad_inputs.handled(case, work / f"case-{index}")
        tried += 1
        handled += ok
        if not ok:
            notes.append(f"{case.name}: {problem}")
            lost += "changed" in problem  # only files that existed before count as lost
    kinds = ", ".join(f"{n} {kind}" for kind, n in bad_inputs.describe().items())
    log(f"3 catalogue: {handled}/{tried}")
    return Row("3 bad-input catalogue (exit 2, one line, no stray files)", tried, handled, lost,
               "; ".join([kinds, *notes]))


def concurrent_plans(work: Path, reference: dict, trials: int, processes: int) -> Row:
    tried = handled = lost = 0
    notes = []
    for trial in range(trials):
        root = work / f"concurrent-{trial}"
        root.mkdir(parents=True)
        count = root / "trainings.txt"
        args = kit.plan_args(root / "runs", root / "cache")
        children = [subprocess.Popen(kit.trm_audit_command(args, count=count), cwd=root, env=kit.child_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(processes)]
        codes = [child.wait(timeout=600) for child in children]
        for child in children:
            child.stdout.close()
            child.stderr.close()
        trainings = collections.Counter(line.split()[1] for line in count.read_text().splitlines()) \
            if count.exists() else collections.Counter()
        missing = lost_runs(reference, root / "runs")
        for run in reference:
            tried += 1
            once = trainings.get(str((root / "runs" / run).resolve())) == 1
            good = once and run not in missing and codes == [0] * processes
            handled += good
            if not good:
                notes.append(f"trial {trial} {run}: trained {trainings.get(str((root / 'runs' / run).resolve()), 0)}x, "
                             f"exit codes {codes}")
        lost += len(missing)
        log(f"4 concurrent trial {trial}: exit codes {codes}, trainings {sorted(trainings.values())}")
    return Row(f"4 K={processes} run processes on one plan", tried, handled, lost,
               "; ".join([f"{trials} trials; each run trained exactly once, records bitwise equal", *notes]))


def report_while_training(work: Path, reference: dict, trials: int) -> Row:
    from audit.records import read_records

    tried = handled = lost = 0
    for trial in range(trials):
        root = work / f"reading-{trial}"
        root.mkdir(parents=True)
        child = subprocess.Popen(kit.trm_audit_command(kit.plan_args(root / "runs", root / "cache")), cwd=root,
                                 env=kit.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while child.poll() is None:
            records, problems = read_records(root / "runs")
            complete = not problems and all(
                not kit.differences(reference[str(r.path.parent.relative_to(root / "runs"))],
                                    kit.record_signature(r.path.parent)) for r in records)
            tried += 1
            handled += complete
            time.sleep(0.05)
        lost += len(lost_runs(reference, root / "runs"))
    log(f"4 reads during training: {handled}/{tried}")
    return Row("4 read_records polled while a plan trains", tried, handled, lost,
               f"{trials} plans; each poll saw only complete, final records")


def determinism(work: Path, seeds: list[int]) -> Row:
    from click.testing import CliRunner

    from audit.cli import cli

    families = kit.DATA / "families.yaml"
    tried = handled = lost = 0
    notes = []
    for seed in seeds:
        a, b = work / f"seed-{seed}-a", work / f"seed-{seed}-b"
        here = CliRunner().invoke(cli, kit.plan_args(a / "runs", a / "cache", seeds=str(seed), claims=families))
        child = kit.trm_audit(kit.plan_args(b / "runs", b / "cache", seeds=str(seed), claims=families), work)
        first, second = kit.plan_signatures(a / "runs"), kit.plan_signatures(b / "runs")
        for run in sorted(set(first) | set(second)):
            tried += 1
            same = run in first and run in second and not kit.differences(first[run], second[run])
            handled += same
            if not same:
                notes.append(f"{run} differs")
        lost += 3 - len(first) + 3 - len(second)
        if here.exit_code or child.returncode:
            notes.append(f"seed {seed}: exit codes {here.exit_code}, {child.returncode}")
        log(f"7 determinism seed {seed}: {handled}/{tried}")
    return Row("7 same seed twice, per family (TRM-MLP, TRM-Att, HRM)", tried, handled, lost,
               "; ".join([f"seeds {seeds}, in-process vs a fresh child with its own data cache", *notes]))


class _Outcomes:
    """pytest plugin: the outcome of every test (a failed setup or teardown fails the test)."""

    def __init__(self):
        self.outcome: dict[str, bool] = {}

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.failed:
            self.outcome[report.nodeid] = self.outcome.get(report.nodeid, True) and report.passed


def pytest_rows() -> list[Row]:
    import pytest

    groups = [("2 torn and corrupt files (checkpoint, run.json, metrics.csv, data cache, external)",
               ["test_torn_files.py", "test_data_cache.py"]),
              ("5 NaN/inf loss, full disk, out of memory", ["test_divergence_and_resource_faults.py"]),
              ("6 stale records", ["test_stale_records.py"]),
              ("8 wrong-typed, linked or unreadable records; run's exit code; report inputs (issue 16)",
               ["test_record_hardening.py"])]
    rows = []
    for scenario, files in groups:
        plugin = _Outcomes()
        paths = [str(REPO / "tests" / "reliability" / name) for name in files]
        pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o", "console_output_style=classic", *paths],
                    plugins=[plugin])
        failed = [node.split("::", 1)[1] for node, ok in plugin.outcome.items() if not ok]
        rows.append(Row(scenario, len(plugin.outcome), len(plugin.outcome) - len(failed), len(failed),
                        f"pytest cases of {', '.join(files)}" + (f"; failed: {', '.join(failed)}" if failed else "")))
        log(f"{scenario}: {rows[-1].handled}/{rows[-1].tried}")
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| scenario | tried | handled | lost data | notes |", "|---|---:|---:|---:|---|"]
    for row in rows:
        note = row.note.replace("|", "/")
        lines.append(f"| {row.scenario} | {row.tried} | {row.handled} | {row.lost} | {note} |")
    return "\n".join(lines)


def code_version() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if git("status", "--porcelain",
                                                                                   "--untracked-files=no") else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer kills and trials (a few minutes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kill points")
    parser.add_argument("--out", default=str(REPO / "reports" / "reliability.md"), help="where the table goes ('' for nowhere)")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    started = time.monotonic()
    chains, kills, trials = (2, 3, 1) if options.quick else (4, 4, 3)
    with tempfile.TemporaryDirectory(prefix="trm-audit-reliability-") as tmp:
        work = Path(tmp)
        log("uninterrupted reference plan")
        reference, metrics_rows = uninterrupted(work / "reference")
        torn, faults, stale, records = pytest_rows()
        rows = [
            kill_at_random_points(work / "1a", reference, metrics_rows, chains, kills, rng),
            kill_at_each_fault(work / "1b", reference, QUICK_FAULT_PLAN if options.quick else FAULT_PLAN),
            kill_parallel_plan(work / "1c", reference, metrics_rows, trials, rng),
            torn,
            bad_input_catalogue(work / "3"),
            concurrent_plans(work / "4", reference, trials, 3),
            report_while_training(work / "4r", reference, trials),
            faults,
            stale,
            determinism(work / "7", [0] if options.quick else [0, 1, 2]),
            records,
        ]
    minutes = (time.monotonic() - started) / 60
    text = table(rows)
    print(text)
    if options.out:
        command = "python scripts/reliability.py" + (" --quick" if options.quick else "") + \
            (f" --seed {options.seed}" if options.seed else "")
        Path(options.out).parent.mkdir(parents=True, exist_ok=True)
        Path(options.out).write_text(
            "# Reliability\n\n"
            f"Output of `{command}` at commit {code_version()}, {minutes:.0f} minutes on this machine "
            "(CPU, one intra-op thread per process). The same checks at CI size are in tests/reliability/.\n\n"
            "Lost data: runs whose final record is missing or differs bit for bit from the uninterrupted "
            "plan's (clocks aside); for the bad inputs, files that existed and were changed; for the rows "
            "run as pytest cases (2, 5, 6, 8), every failed case.\n\n" + text + "\n")
    failures = sum(row.tried - row.handled + row.lost for row in rows)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
