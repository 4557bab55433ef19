"""Where each run stands (`trm-audit status`): claims x profiles x seeds, read from the runs directory.

Nothing here writes or judges on its own: a record's standing comes from `audit.evidence.standing_at`
(the rule the plan and the report apply), a run in progress from the runner's lock
(`audit.runner.lock_held`, probed without taking it for more than an instant), the step an unfinished
run resumes at from its checkpoint (`trm.state.checkpoint_step`), and the last evaluation from the
trainer's `metrics.csv`. Statuses, in the order they are decided:

* blocked: the run directory is a symlink or unreadable (the plan neither counts nor trains it);
* done: a record that counts (a run that diverged and is counted included; `reason` says so);
* running: no record that counts, and a process holds the directory's lock;
* failed / stale / damaged: a record that does not count, with the standing's cause and reason;
* resumable: no record, a checkpoint (`step`: where it resumes; None when no checkpoint opens);
* missing: nothing to resume.

Rows cover each claim's profiles in registry order and the seeds each declares (those `trm-audit
run` trains), plus what the directory holds beyond them: seeds trained with `--seeds` (`declared`
false) and profiles no longer in the registry (their records are stale). A claim scored from
another claim's runs (`runs_of`) reads that claim's directories, judged by its own protocol.
"""
from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional

from audit.errors import InputError
from audit.evidence import scores_raw_beside_ema, standing_at
from audit.plan import blocked_reason
from audit.records import RECORD_NAME, RecordError, read_record, run_dir
from audit.registry import Claim, Registry
from audit.runner import lock_held
from audit.seed_lists import format_seeds

STATUSES = ("done", "running", "failed", "stale", "damaged", "resumable", "missing", "blocked")
_SEED_DIR = re.compile(r"^seed-(\d+)$")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the claim's metric: at optimizer `step`, `value` in percent."""

    step: int
    metric: str
    value: float


@dataclass(frozen=True)
class RunStatus:
    """One (claim, profile, seed): its status (one of STATUSES) and what explains it.

    `cause` is the record's standing cause (audit.evidence.Cause) when there is a record, else None;
    `reason` the standing's one-line reason (failed, stale, damaged, a counted divergence), or why a
    directory is blocked; `step` the checkpoint step of a resumable or running run; `evidence` the
    evaluation the claim's checkpoint rule selects from the record (done or stale); `last_evaluation`
    the newest evaluation of the claim's metric in metrics.csv. `directory` is relative to the
    current directory as the runs directory was given.
    """

    claim: str
    profile: str
    seed: int
    status: str
    declared: bool
    cause: Optional[str]
    reason: str
    step: Optional[int]
    evidence: Optional[Evaluation]
    last_evaluation: Optional[Evaluation]
    directory: str


def collect_status(registry: Registry, runs_dir: Path | str, *, claim_ids: Iterable[str] = (),
                   profiles: Iterable[str] = ()) -> list[RunStatus]:
    """Every run's status, in registry order (claims, then profiles, then seeds ascending).

    claim_ids / profiles narrow the rows (empty: all). Raises InputError for an unknown claim id, or
    a profile that no selected claim declares or has runs of.
    """
    wanted, profiles = list(dict.fromkeys(claim_ids)), tuple(profiles)
    claims = [registry.claim(cid) for cid in wanted] if wanted else list(registry.claims)
    runs_dir = Path(runs_dir)
    rows: list[RunStatus] = []
    seen_profiles: set[str] = set()
    for claim in claims:
        for profile, seeds in _seeds_per_profile(claim, runs_dir).items():
            seen_profiles.add(profile)
            if profiles and profile not in profiles:
                continue
            declared = set(claim.profiles[profile].seeds) if profile in claim.profiles else set()
            for seed in sorted(seeds):
                rows.append(run_status(claim, profile, seed, runs_dir, declared=seed in declared))
    unknown = [p for p in dict.fromkeys(profiles) if p not in seen_profiles]
    if unknown:
        raise InputError(f"--profile: no selected claim has profile {unknown[0]!r} (known: "
                         f"{', '.join(sorted(seen_profiles))})")
    return rows


def _seeds_per_profile(claim: Claim, runs_dir: Path) -> dict[str, set[int]]:
    """profile -> seeds to show: the declared ones, plus the seed directories found on disk."""
    found: dict[str, set[int]] = {name: set(profile.seeds) for name, profile in claim.profiles.items()}
    claim_dir = Path(runs_dir, claim.runs_of or claim.id)  # run_dir's layout: <claim-id>/<profile>/seed-<k>
    if claim_dir.is_dir():
        for profile_dir in sorted(p for p in claim_dir.iterdir() if p.is_dir() and not p.is_symlink()):
            seeds = {int(m.group(1)) for p in profile_dir.iterdir() if (m := _SEED_DIR.match(p.name))}
            if seeds:
                found.setdefault(profile_dir.name, set()).update(seeds)
    return found


def run_status(claim: Claim, profile: str, seed: int, runs_dir: Path, *, declared: bool = True) -> RunStatus:
    """The status of one (claim, profile, seed) under `runs_dir` (see the module docstring's order)."""
    directory = run_dir(runs_dir, claim.runs_of or claim.id, profile, seed)
    row = dict(claim=claim.id, profile=profile, seed=seed, declared=declared, cause=None, reason="", step=None,
               evidence=None, last_evaluation=None, directory=str(directory))
    blocked = blocked_reason(directory, claim.runs_of or claim.id)
    if blocked:
        return RunStatus(status="blocked", **{**row, "reason": blocked})
    found = standing_at(directory / RECORD_NAME, claim, profile, seed)
    row["last_evaluation"] = last_evaluation(directory / "metrics.csv", claim.metric,
                                             _evaluation_split(claim, profile, directory))
    if found is not None:
        row.update(cause=found.cause, reason=found.reason)
        if found.evaluation is not None:
            row["evidence"] = Evaluation(found.evaluation.step, claim.metric, found.evaluation.value)
        if found.counts:
            return RunStatus(status="done", **row)
    if lock_held(directory):
        return RunStatus(status="running", **{**row, "step": _checkpoint_step(directory)})
    if found is not None:
        return RunStatus(status=found.status, **row)
    if (directory / "checkpoint").exists():  # the plan's `resume`
        return RunStatus(status="resumable", **{**row, "step": _checkpoint_step(directory)})
    return RunStatus(status="missing", **row)


def _checkpoint_step(directory: Path) -> Optional[int]:
    """The step the run's newest checkpoint resumes at (None: none opens); imports torch only when
    there is a checkpoint directory."""
    if not (directory / "checkpoint").is_dir():
        return None
    from trm.state import checkpoint_step

    return checkpoint_step(directory / "checkpoint")


class _ConfigOnly:
    """A stand-in record holding only a config, for `scores_raw_beside_ema` before a run has a record."""

    def __init__(self, config: dict):
        self.config = config


def _evaluation_split(claim: Claim, profile: str, directory: Path) -> str:
    """The metrics.csv split holding the claim's evidence: 'test_raw' where the claim scores the raw
    weights beside an EMA copy (the trainer logs them there), else 'test'. Judged on the record's
    config when there is a readable record, else on the profile's."""
    try:
        source = read_record(directory / RECORD_NAME)
    except RecordError:
        if profile not in claim.profiles:
            return "test"
        source = _ConfigOnly(claim.profiles[profile].config.to_dict())
    return "test_raw" if scores_raw_beside_ema(source, claim) else "test"


def last_evaluation(metrics_csv: Path, metric: str, split: str = "test") -> Optional[Evaluation]:
    """The newest row of `split` / `metric` in a trainer's metrics.csv (step,split,metric,value; the
    value a fraction), in percent; None when the file is absent or has no such row. A row that does
    not parse (a line torn by a kill) is skipped: the file is a log, not evidence."""
    try:
        handle = open(metrics_csv, newline="", encoding="utf-8")
    except OSError:
        return None
    last = None
    with handle:
        for row in csv.DictReader(handle):
            if row.get("split") == split and row.get("metric") == metric:
                try:
                    last = Evaluation(int(row["step"]), metric, 100.0 * float(row["value"]))
                except (TypeError, ValueError):
                    continue
    return last


def status_counts(rows: Iterable[RunStatus]) -> dict[str, int]:
    """How many rows have each status, in STATUSES order, zeros left out."""
    rows = list(rows)
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    return {s: n for s, n in counts.items() if n}


def status_json(rows: Iterable[RunStatus]) -> list[dict]:
    """The rows as plain data for `--json`: one object per row, keys as in RunStatus."""
    return [asdict(row) for row in rows]


def format_status(rows: list[RunStatus]) -> str:
    """A table, one line per run (seeds of one claim and profile that share a status with nothing more
    to say, e.g. missing, on one line), then a count per status."""
    if not rows:
        return "no runs: the selected claims declare no seeds"
    groups: list[tuple[RunStatus, list[int]]] = []
    for r in rows:
        last = groups[-1][0] if groups else None
        if (last is not None and (last.claim, last.profile, last.status, last.declared) == (r.claim, r.profile,
                r.status, r.declared) and not _detail(last) and not _detail(r)):
            groups[-1][1].append(r.seed)
        else:
            groups.append((r, [r.seed]))
    width = max(len(r.claim) for r in rows)
    pwidth = max(len(r.profile) for r in rows)
    labels = [("seed " if len(seeds) == 1 else "seeds ") + format_seeds(seeds) + ("" if r.declared else "*")
              for r, seeds in groups]
    swidth = max(map(len, labels))
    lines = [f"  {r.claim:<{width}}  {r.profile:<{pwidth}}  {label:<{swidth}}  {r.status:<9} {_detail(r)}".rstrip()
             for (r, _), label in zip(groups, labels)]
    counts = ", ".join(f"{n} {s}" for s, n in status_counts(rows).items())
    footer = [f"{len(rows)} runs: {counts}"]
    if any(not r.declared for r in rows):
        footer.append("* a seed the profile does not declare (trained with --seeds, or the profile is gone)")
    return "\n".join(lines + footer)


def _detail(r: RunStatus) -> str:
    """What follows the status on its line: the evidence or the step, the reason, the last evaluation."""
    parts = []
    if r.status == "done" and r.evidence is not None:
        parts.append(f"{r.evidence.metric} {r.evidence.value:.2f}% (step {r.evidence.step})")
    if r.status in ("resumable", "running"):
        parts.append("at step " + (str(r.step) if r.step is not None else "? (no checkpoint opens yet)"))
    if r.status == "stale":
        parts.append(f"{r.cause}: {r.reason}")
    elif r.reason:
        parts.append(r.reason)
    if r.last_evaluation is not None and r.status != "done":
        ev = r.last_evaluation
        parts.append(f"last evaluation: step {ev.step}, {ev.metric} {ev.value:.2f}%")
    return "; ".join(parts)
