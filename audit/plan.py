"""The run plan: (claim x profile x seed) as a list of RunSpecs that can be printed before anything runs.

Each spec reruns alone. Its state comes from what is on disk, judged by audit.evidence (the rule the
report applies too): a record that counts is `done` (skipped), one that no longer answers the claim
is `stale` (kept, reported, retrained only on request), a failed or damaged record is retried
(`retry`; a damaged one is kept aside first), a checkpoint without a record resumes
(`resume`), otherwise `new`. A run directory that is a symlink or cannot be read is `blocked`: the
report does not read it, so it is neither done nor trained into until the user replaces it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional

from audit.errors import InputError
from audit.evidence import standing_at
from audit.records import RECORD_NAME, run_dir, symlink_on_run_path
from audit.registry import Claim, Profile, Registry, budget_cut
from audit.seed_lists import format_seeds
from trm.config import TrainConfig

STATES = ("new", "resume", "retry", "done", "stale", "blocked")


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
    """A spec and what the runs directory says about it; `wall_time_s` is the wall time of its record
    when the record is `done` (what audit.costs times the rest of the plan by)."""

    spec: RunSpec
    state: str
    note: str = ""
    wall_time_s: Optional[float] = None

    @property
    def needs_training(self) -> bool:
        return self.state in ("new", "resume", "retry")


def expand_plan(registry: Registry, *, profile: str, runs_dir: Path, seeds: Optional[Iterable[int]] = None,
                claim_ids: Optional[Iterable[str]] = None, max_steps: Optional[int] = None) -> list[RunSpec]:
    """Every (claim, profile, seed) to run, in registry order then seed order.

    claim_ids: the claims to plan; each must have the profile. Without them, every claim that has
    it (`claims_without` names the others, for the plan to say); none having it is an error.
    seeds: the run seeds for every claim; None (the default) means each claim's profile's declared
    `seeds`. Each spec's config is `Profile.config_for(seed)` (its data seed follows `data_seed`).
    max_steps: a quick try: each claim's profile capped at that many optimizer steps, planned under
    its own non-comparable profile 'P@max-steps-N' (audit.registry.budget_cut) and run directory.
    """
    seeds = None if seeds is None else list(seeds)
    wanted = list(claim_ids) if claim_ids else None
    claims = [registry.claim(cid) for cid in wanted] if wanted else list(registry.claims)
    if not wanted:  # a profile only some claims have (a proxy regime) plans those claims
        if not any(profile in claim.profiles for claim in claims if claim.runs_of is None):
            files = ", ".join(dict.fromkeys(str(claim.file) for claim in claims))
            raise InputError(f"{files}: no profile {profile!r} in any claim (known: {', '.join(known_profiles(claims))})")
        claims = [claim for claim in claims if profile in claim.profiles]
    specs = []
    for claim in claims:
        if claim.runs_of is not None:
            continue  # scored from the runs of claim.runs_of, which that claim trains
        if profile not in claim.profiles:
            known = ", ".join(claim.profiles)
            raise InputError(f"{claim.file}: {claim.id}: profiles: no profile {profile!r} (known: {known})")
        chosen = claim.profiles[profile]
        if max_steps is not None:  # the spec's claim carries the try's profile, so every lookup by name finds it
            chosen = budget_cut(chosen, max_steps)
            claim = replace(claim, profiles={**claim.profiles, chosen.name: chosen})
        for seed in chosen.seeds if seeds is None else seeds:
            specs.append(RunSpec(claim=claim, profile=chosen.name, seed=seed, config=chosen.config_for(seed),
                                 directory=run_dir(runs_dir, claim.id, chosen.name, seed)))
    return specs


def claims_without(registry: Registry, profile: str) -> list[str]:
    """The trained claims (no `runs_of`) that have no profile `profile`: left out of an unfiltered plan."""
    return [claim.id for claim in registry.claims if claim.runs_of is None and profile not in claim.profiles]


def known_profiles(claims) -> list[str]:
    """Every profile name of `claims`, in first-seen order."""
    return list(dict.fromkeys(name for claim in claims for name in claim.profiles))


def declares_seeds(profile: Profile) -> bool:
    """Whether the profile (or a setup behind it) declares its seeds, or takes the default (seed 0)."""
    return profile.resolution is not None and "seeds" in profile.resolution.origins


def describe_seeds(specs: list[RunSpec], override: Optional[list[int]]) -> list[str]:
    """The first lines of `trm-audit run` about seeds: which ones, where they come from, how each
    seed's data is drawn; one line when every claim of the plan agrees, else one line per claim (per
    claim and profile when the plan has several profiles)."""
    several = len({spec.profile for spec in specs}) > 1
    per_claim: dict[str, str] = {}
    for spec in specs:
        profile = spec.claim.profiles[spec.profile]
        declared = format_seeds(profile.seeds) if declares_seeds(profile) else None
        if override is not None:
            source = f"from --seeds; declared: {declared or 'none'}"
        else:
            source = "as declared" if declared else "the default: the profile declares none"
        seeds = format_seeds(override if override is not None else profile.seeds)
        if profile.data_seed == "run":
            data = f"each seed draws its own data (data_seed run: data.seed {profile.data.seed} + run seed)"
        else:
            data = f"every seed trains on one data draw (data_seed fixed: data.seed {profile.data.seed})"
        per_claim[f"{spec.claim.id} ({spec.profile})" if several else spec.claim.id] = f"seeds: {seeds} ({source}); {data}"
    if not per_claim:
        return []
    if len(set(per_claim.values())) == 1:
        return [next(iter(per_claim.values()))]
    return ["seeds per claim:", *(f"  {claim_id}: {text}" for claim_id, text in per_claim.items())]


def assess(spec: RunSpec) -> PlannedRun:
    """What must happen to this spec, judged from its directory by `audit.evidence.standing_at`.

    No record: `resume` from a checkpoint, else `new`. A record that counts is `done`; one that
    answers another question than the claim's today (profile, metric, config or checkpoint rule
    changed) is `stale`; a damaged or failed one is retrained (`retry`; the runner keeps a
    damaged record aside first), except a run that diverged: the trainer is deterministic, so a
    rerun would diverge again; it is `done`, counted or excluded as the claim's `protocol.diverged`
    says (audit.evidence). A symlinked or unreadable run directory is `blocked`.
    """
    blocked = _blocked(spec)
    if blocked:
        return PlannedRun(spec, "blocked", blocked)
    found = standing_at(spec.directory / RECORD_NAME, spec.claim, spec.profile, spec.seed)
    if found is None:
        if (spec.directory / "checkpoint").exists():
            return PlannedRun(spec, "resume", "resumes from its checkpoint")
        return PlannedRun(spec, "new")
    if found.counts:
        return PlannedRun(spec, "done", found.reason if found.diverged_at is not None else "", found.wall_time_s)
    if found.cause == "diverged":
        return PlannedRun(spec, "done", f"{found.reason}; not retried: a deterministic rerun diverges again",
                          found.wall_time_s)
    if found.status == "stale":
        return PlannedRun(spec, "stale", found.reason)
    if found.cause == "failed":
        return PlannedRun(spec, "retry", f"previous attempt failed: {found.reason}")
    return PlannedRun(spec, "retry", f"damaged: {found.reason}; kept aside and retrained")


def _blocked(spec: RunSpec) -> Optional[str]:
    """Why the run directory cannot be used (a symlink on its path, or unreadable), or None."""
    return blocked_reason(spec.directory, spec.claim.id)


def blocked_reason(directory: Path, claim_id: str) -> Optional[str]:
    """Why the run directory `directory` of `claim_id` cannot be used (a symlink on its path, or
    unreadable), or None."""
    link = symlink_on_run_path(directory, claim_id)
    if link is not None:
        return f"{link} is a symlink: not read as a record; replace it with a real directory or file"
    try:
        if directory.is_dir():
            os.scandir(directory).close()
        (directory / RECORD_NAME).exists()
    except OSError as err:
        return f"{directory}: cannot be read ({err.strerror or err})"
    return None


def format_plan(planned: list[PlannedRun]) -> str:
    """One line per run, then a count per state."""
    lines = []
    for run in planned:
        note = f"  ({run.note})" if run.note else ""
        lines.append(f"  {run.state:<6} {run.spec.claim.id}  {run.spec.profile}  seed {run.spec.seed}{note}")
    counts = {s: sum(r.state == s for r in planned) for s in STATES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return "\n".join([f"plan: {len(planned)} runs ({summary})", *lines])
