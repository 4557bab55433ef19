"""The run plan: (claim x profile x seed) as a list of RunSpecs that can be printed before anything runs.

Each spec reruns alone. Its state comes from what is on disk, judged by audit.evidence (the rule the
report applies too): a record that counts is `done` (skipped), one that no longer answers the claim
is `stale` (kept, reported, retrained only on request), a failed or damaged record is retried
(`retry`), a checkpoint without a record resumes (`resume`), otherwise `new`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from audit.errors import InputError
from audit.evidence import standing_at
from audit.records import RECORD_NAME, run_dir
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
        if claim.runs_of is not None:
            continue  # scored from the runs of claim.runs_of, which that claim trains
        if profile not in claim.profiles:
            known = ", ".join(claim.profiles)
            raise InputError(f"{claim.file}: {claim.id}: profiles: no profile {profile!r} (known: {known})")
        base = claim.profiles[profile].config
        for seed in seeds:
            specs.append(RunSpec(claim=claim, profile=profile, seed=seed, config=base.with_seed(seed),
                                 directory=run_dir(runs_dir, claim.id, profile, seed)))
    return specs


def assess(spec: RunSpec) -> PlannedRun:
    """What must happen to this spec, judged from its directory by `audit.evidence.standing_at`.

    No record: `resume` from a checkpoint, else `new`. A record that counts is `done`; one that
    answers another question than the claim's today (profile, metric, config or checkpoint rule
    changed) is `stale`; a damaged or failed one is retrained (`retry`).
    """
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, spec.profile, spec.seed)
    if found is None:
        if (spec.directory / "checkpoint").exists():
            return PlannedRun(spec, "resume", "resumes from its checkpoint")
        return PlannedRun(spec, "new")
    if found.counts:
        return PlannedRun(spec, "done")
    if found.status == "stale":
        return PlannedRun(spec, "stale", found.reason)
    if found.cause == "failed":
        return PlannedRun(spec, "retry", f"previous attempt failed: {found.reason}")
    return PlannedRun(spec, "retry", f"{found.reason}, retrained")


def format_plan(planned: list[PlannedRun]) -> str:
    """One line per run, then a count per state."""
    lines = []
    for run in planned:
        note = f"  ({run.note})" if run.note else ""
        lines.append(f"  {run.state:<6} {run.spec.claim.id}  {run.spec.profile}  seed {run.spec.seed}{note}")
    counts = {s: sum(r.state == s for r in planned) for s in STATES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "\n".join([f"plan: {len(planned)} runs ({summary})", *lines])
