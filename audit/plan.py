"""The run plan: (claim x profile x seed) as a list of RunSpecs that can be printed before anything runs.

Each spec reruns alone. Its state comes from what is on disk: a completed record with the same config
hash is `done` (skipped), one with another hash is `stale` (kept, reported, retrained only on request),
a failed record or a checkpoint without a record is retried (`retry` / `resume`), otherwise `new`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from audit.errors import InputError
from audit.records import RECORD_NAME, RecordError, read_record, run_dir, same_config
from audit.registry import Claim, Registry
from trm.config import TrainConfig

STATES = ("new", "resume", "retry", "done", "stale")
MAX_SEEDS = 10_000  # far more than any audit trains; a typo like --num-seeds 1000000000 must not hang the planner


@dataclass(frozen=True)
class RunSpec:
    """One planned training run."""

    claim: Claim
    profile: str
    seed: int
    config: TrainConfig
    directory: Path

    @property
    def name(self) -> str:
        return f"{self.claim.id}__{self.profile}__seed{self.seed}"

    @property
    def comparable(self) -> bool:
        return self.claim.profiles[self.profile].comparable


@dataclass(frozen=True)
class PlannedRun:
    """A spec and what the runs directory says about it."""

    spec: RunSpec
    state: str
    note: str = ""

    @property
    def needs_training(self) -> bool:
        return self.state in ("new", "resume", "retry")


def parse_seeds(seeds: Optional[str], num_seeds: Optional[int]) -> list[int]:
    """`--seeds 0,1,2` or `--num-seeds N` (seeds 0..N-1); default a single seed 0."""
    if seeds is not None and num_seeds is not None:
        raise InputError("--seeds and --num-seeds: give one of them, not both")
    if num_seeds is not None:
        if not 1 <= num_seeds <= MAX_SEEDS:
            raise InputError(f"--num-seeds: expected an integer from 1 to {MAX_SEEDS}, got {num_seeds}")
        return list(range(num_seeds))
    if seeds is None:
        return [0]
    out = []
    for part in seeds.split(","):
        part = part.strip()
        if not part.isdigit():
            raise InputError(f"--seeds: expected non-negative integers separated by commas, got {seeds!r}")
        out.append(int(part))
    if len(set(out)) != len(out):
        raise InputError(f"--seeds: a seed is listed twice in {seeds!r}")
    if len(out) > MAX_SEEDS:
        raise InputError(f"--seeds: at most {MAX_SEEDS} seeds, got {len(out)}")
    return out


def expand_plan(registry: Registry, *, profile: str, seeds: Iterable[int], runs_dir: Path,
                claim_ids: Optional[Iterable[str]] = None) -> list[RunSpec]:
    """Every (claim, profile, seed) to run, in registry order then seed order."""
    wanted = list(claim_ids) if claim_ids else None
    claims = [registry.claim(cid) for cid in wanted] if wanted else list(registry.claims)
    specs = []
    for claim in claims:
        if profile not in claim.profiles:
            known = ", ".join(claim.profiles)
            raise InputError(f"{claim.file}: {claim.id}: profiles: no profile {profile!r} (known: {known})")
        base = claim.profiles[profile].config
        for seed in seeds:
            specs.append(RunSpec(claim=claim, profile=profile, seed=seed, config=base.with_seed(seed),
                                 directory=run_dir(runs_dir, claim.id, profile, seed)))
    return specs


def assess(spec: RunSpec) -> PlannedRun:
    """What must happen to this spec, judged from its directory."""
    record_path = spec.directory / RECORD_NAME
    if record_path.exists():
        try:
            record = read_record(record_path)
        except RecordError as err:
            return PlannedRun(spec, "retry", f"unreadable record, retrained ({err})")
        if (record.claim_id, record.profile, record.seed) != (spec.claim.id, spec.profile, spec.seed):
            return PlannedRun(spec, "retry", f"the record there is of {record.claim_id} / {record.profile} / "
                                             f"seed {record.seed}, retrained")
        if not same_config(record, spec.config):
            return PlannedRun(spec, "stale", f"record made with config {record.config_hash}, "
                                             f"profile is now {spec.config.config_hash()}")
        if record.status == "completed":
            return PlannedRun(spec, "done")
        return PlannedRun(spec, "retry", f"previous attempt failed: {record.error}")
    if (spec.directory / "checkpoint").exists():
        return PlannedRun(spec, "resume", "resumes from its checkpoint")
    return PlannedRun(spec, "new")


def format_plan(planned: list[PlannedRun]) -> str:
    """One line per run, then a count per state."""
    lines = []
    for run in planned:
        note = f"  ({run.note})" if run.note else ""
        lines.append(f"  {run.state:<6} {run.spec.claim.id}  {run.spec.profile}  seed {run.spec.seed}{note}")
    counts = {s: sum(r.state == s for r in planned) for s in STATES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "\n".join([f"plan: {len(planned)} runs ({summary})", *lines])
