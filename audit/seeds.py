"""Seed planning (`trm-audit plan-seeds`): how many seeds a claim needs to detect a gap, and the power of
the seeds it has, from the seed SD observed on its sources (audit.sources) or one stated by the user.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional

from audit import stats
from audit.errors import InputError
from audit.sources import collect_sources, source_stats

MAX_SD_PER_GAP = 1000.0  # plan-seeds refuses gaps below SD / 1000 (over six million seeds per arm)


@dataclass(frozen=True)
class SeedAdvice:
    """How many seeds a claim needs: one-sample (against the claimed number) and per arm (two samples)."""

    claim_id: str
    gap: float  # the difference to detect, pp (default: the claim's tolerance)
    sd: float  # seed SD assumed, pp
    sd_from: str  # "stated" or the source it was observed on, e.g. "smoke (n = 3)"
    n_current: Optional[int]  # completed runs of that source (None for a stated SD)
    one_sample: stats.SeedPlan
    two_sample: stats.SeedPlan
    power_one_sample: Optional[float]  # power of n_current seeds (None when n_current < 2)
    power_two_sample: Optional[float]


def plan_seeds(registry, records: Iterable, externals: Iterable, claim_id: str, *, gap: Optional[float] = None,
               sd: Optional[float] = None, profile: str = "paper", alpha: float = stats.ALPHA,
               power: float = 0.8) -> SeedAdvice:
    """Seeds needed for a one-sided test at `alpha` with `power` to detect `gap` pp at the seed SD.

    The SD is `sd` when given, else the observed SD of the claim's source named `profile` (one of
    its profiles, or an external source's name), and only that one: a proxy's spread says little
    about the paper setup's. Raises InputError naming the claim and what is missing, and which
    other sources of the claim have a spread.
    """
    claim = registry.claim(claim_id)
    gap = claim.tolerance_pp if gap is None else gap
    if not (math.isfinite(gap) and gap > 0):
        raise InputError(f"{claim_id}: gap: expected a positive number of percentage points, got {gap}")
    sources, _ = collect_sources(registry, records, externals)
    observed = [(s, source_stats(s)) for s in sources if s.claim_id == claim_id]
    observed = [(s, st) for s, st in observed if st.sd]
    chosen = [(s, st) for s, st in observed if s.source == profile]
    if sd is not None:
        if not (math.isfinite(sd) and sd > 0):
            raise InputError(f"{claim_id}: sd: expected a positive number of percentage points, got {sd}")
        sd_from, n_current = "stated", None
    elif chosen:
        source, st = chosen[0]
        sd, sd_from, n_current = st.sd, f"{source.source} (n = {st.n})", st.n
    else:
        others = ", ".join(f"{s.source} (n = {st.n}, SD {st.sd:.3g} pp)" for s, st in observed)
        hint = f"; sources with a spread: {others} (choose one with --profile)" if others else ""
        raise InputError(f"{claim_id}: sd: no source {profile!r} with two or more completed runs and a non-zero SD"
                         f"{hint}; or state one with --sd")
    if sd / gap > MAX_SD_PER_GAP:  # the seed count would be astronomical (and overflow for tiny gaps)
        raise InputError(f"{claim_id}: gap: {gap:g} pp is below SD / {MAX_SD_PER_GAP:g} (SD {sd:g} pp); "
                         "no number of seeds can detect it in practice")
    current = n_current if n_current is not None and n_current >= 2 else None
    return SeedAdvice(
        claim_id, gap, sd, sd_from, n_current,
        stats.seeds_needed(gap, sd, arms=1, alpha=alpha, power=power),
        stats.seeds_needed(gap, sd, arms=2, alpha=alpha, power=power),
        None if current is None else stats.power_one_sided(current, gap, sd, arms=1, alpha=alpha),
        None if current is None else stats.power_one_sided(current, gap, sd, arms=2, alpha=alpha),
    )
