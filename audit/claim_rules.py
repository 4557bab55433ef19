"""The rules that tie a claim to its profiles, its source runs and its comparisons, checked when the
registry loads (audit.registry), after each profile is resolved from its base setup.

- A profile fits its claim: its config passes every trainer rule (trm.config.check), its task can
  measure the claim's metric, and a comparable profile evaluates as the claim's protocol says
  (EMA or raw weights, N_sup, ARC scoring) and draws its data as the official builder does.
- A claim scored from another claim's runs (`runs_of`) names a claim that trains them, alike.
- A comparison names two claims measured alike, and no two comparisons contradict each other.

Profile problems raise trm's ConfigError with the dotted field (the registry prefixes the file and
the claim); the cross-claim ones raise InputError naming file, claim and field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from audit.errors import InputError
from trm.config import check
from trm.schema import ConfigError

if TYPE_CHECKING:  # the registry's types; the registry imports this module
    from audit.registry import Claim, Comparison, Profile

METRICS_BY_TASK = {"sudoku": ("exact_accuracy",), "maze": ("exact_accuracy",), "arc": ("pass@1", "pass@2")}
# How the official builders draw a benchmark's data (docs/data-formats.md): the Sudoku and Maze builders
# are unseeded, so every build (every official run) gets a fresh subset and augmentations ("run"); the
# ARC builder is seeded with 42, so every official run trains on the same versions ("fixed").
OFFICIAL_DATA_SEED = {"sudoku": "run", "maze": "run", "arc": "fixed"}


def check_profile_fits_claim(profile: Profile, claim: Claim, where: str) -> None:
    """A profile must be able to produce the claim's metric, under the claim's evaluation protocol."""
    try:
        check(profile.config)  # every rule training would otherwise stop on, across the sections too
    except ConfigError as err:
        raise err.prefixed(where) from None
    allowed = METRICS_BY_TASK[profile.data.task]
    if claim.metric not in allowed:
        raise ConfigError(f"{where}.data.task", f"task {profile.data.task!r} cannot measure {claim.metric!r}")
    if profile.comparable and (profile.band is not None or profile.regime is not None):
        field_name = "band" if profile.band is not None else "regime"
        raise ConfigError(f"{where}.{field_name}", "a comparable profile is judged against the claimed number; "
                          "a band or regime belongs to a proxy (comparable: false)")
    if profile.comparable:
        if claim.protocol.weights == "ema" and not profile.train.ema:
            raise ConfigError(f"{where}.train.ema", "the claim's protocol evaluates 'ema' weights, got ema=False")
        if claim.protocol.weights == "raw" and profile.train.ema and not profile.train.eval_raw_weights:
            raise ConfigError(f"{where}.train.ema", "the claim's protocol evaluates 'raw' weights: expected ema=False, "
                              "or an EMA run that scores its raw weights too (train.eval_raw_weights: true)")
        # Fixed Sudoku or Maze data leaves the variance of the subset and augmentations (about 2 points
        # on Sudoku-Extreme, HRM README) out of the seed spread: every interval would be too narrow.
        # (A processed directory is one draw whatever the policy; ARC's official build is fixed.)
        fixed_where_official_draws = profile.data_seed == "fixed" and OFFICIAL_DATA_SEED[profile.data.task] == "run"
        if fixed_where_official_draws and profile.data.source != "processed":
            raise ConfigError(f"{where}.data_seed", f"the official {profile.data.task} builder draws fresh data for "
                              "every run, so a comparable profile trains each seed on its own draw; expected "
                              "'run', got 'fixed' (fixed data makes every interval too narrow)")
        if claim.protocol.supervision_steps != profile.model.halt_max_steps:
            raise ConfigError(f"{where}.model.halt_max_steps", "must equal the protocol's supervision_steps "
                              f"{claim.protocol.supervision_steps}, got {profile.model.halt_max_steps}")
    check_arc_scoring(profile, claim, where)


# Protocol field -> the trainer's setting that implements it (ARC scoring).
ARC_SCORING = {"pooled_votes": "eval_pool_votes", "task_credit": "eval_task_credit"}


def check_arc_scoring(profile: Profile, claim: Claim, where: str) -> None:
    """ARC claims state how pass@k was scored; a comparable profile must score it that way."""
    for field_name, setting in ARC_SCORING.items():
        stated = getattr(claim.protocol, field_name)
        if profile.data.task != "arc":
            if stated is not None:
                raise ConfigError(f"protocol.{field_name}", "applies to ARC claims only (pass@k), expected null")
            continue
        if not profile.comparable:
            continue  # a proxy may score differently; the report lists it as not comparable
        if stated is None:
            raise ConfigError(f"protocol.{field_name}", f"an ARC claim with a comparable profile ({profile.name}) "
                              "must state it")
        if getattr(profile.train, setting) != stated:
            raise ConfigError(f"{where}.train.{setting}", f"the claim's protocol has {field_name}={stated!r}, "
                              f"got {setting}={getattr(profile.train, setting)!r}")


def check_runs_of(claims: list[Claim]) -> None:
    """A claim scored from another claim's runs names a claim that trains them, with the same profiles.

    Same profile names, same configs (so each record of that claim is a record of this one) and the
    same metric; the named claim must train its own runs (one level, no chains).
    """
    by_id = {claim.id: claim for claim in claims}
    for claim in claims:
        if claim.runs_of is None:
            continue
        where = f"{claim.file}: {claim.id}: runs_of"
        source = by_id.get(claim.runs_of)
        if source is None:
            raise InputError(f"{where}: names unknown claim {claim.runs_of!r}")
        if source.id == claim.id or source.runs_of is not None:
            raise InputError(f"{where}: {claim.runs_of!r} must train its own runs (no runs_of of its own, not itself)")
        if source.metric != claim.metric:
            raise InputError(f"{where}: {source.id} measures {source.metric!r}, this claim {claim.metric!r}")
        for name, profile in claim.profiles.items():
            theirs = source.profiles.get(name)
            if theirs is None or theirs.config != profile.config:
                raise InputError(f"{claim.file}: {claim.id}: profiles.{name}: must be {source.id}'s profile "
                                 f"{name!r} (same config), whose runs it scores")


def check_comparisons(comparisons: list[Comparison], claims: dict[str, Claim]) -> None:
    """Each comparison names two known claims measured alike (same benchmark and metric:
    anything else compares numbers of different things), and no two comparisons state a > b and b > a
    (they cannot both be supported; one of them is a mistake in the registry). InputError otherwise."""
    seen: set[str] = set()
    directions: dict[tuple[str, str], Comparison] = {}
    for comparison in comparisons:
        where = f"{comparison.file}: {comparison.id}"
        if comparison.id in seen:
            raise InputError(f"{where}: id: duplicate comparison id")
        seen.add(comparison.id)
        for side in ("a", "b"):
            ref = getattr(comparison, side)
            if ref not in claims:
                raise InputError(f"{where}: {side}: names unknown claim {ref!r}")
        a, b = claims[comparison.a], claims[comparison.b]  # a == b is refused when the comparison is read
        for field_name in ("benchmark", "metric"):
            if getattr(a, field_name) != getattr(b, field_name):
                raise InputError(f"{where}: b: {b.id} has {field_name} {getattr(b, field_name)!r}, {a.id} has "
                                 f"{getattr(a, field_name)!r}: the arms must measure the same thing")
        if comparison.alternative == "greater":
            opposite = directions.get((b.id, a.id))
            if opposite is not None:
                raise InputError(f"{where}: states {a.id} > {b.id}, but {opposite.file}: {opposite.id} states the "
                                 "opposite; keep one")
            directions[(a.id, b.id)] = comparison
