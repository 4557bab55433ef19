"""The claims registry: a paper's claims, as data, validated once where the YAML enters.

A claims file (one per claim family, e.g. `claims/sudoku_mlp.yaml`) holds `claims:` and/or
`comparisons:`. Each claim carries its quoted statement and source, what is measured and how,
the claimed value in percent, the tolerance of the verdict and its profiles: complete training
setups (`paper`: the official recipe; `smoke`: a CPU proxy), each a `TrainConfig` body plus what
the report needs to know about it (comparable or not, stated hardware and time, deviations). A
profile usually names a base setup of `claims/setups.yaml` and writes only what differs from it
(audit.setups resolves that here, once: past this module every profile is complete). A profile
also declares the run seeds an audit trains (`seeds: [0, 1, 2]` or `seeds: "0-4"`) and whether each
seed draws its own data subset and augmentations (`data_seed: run`) or all share one (`fixed`).

Every problem is one line naming the file, the claim and the field, e.g.
    claims/sudoku_mlp.yaml: sudoku-extreme/trm-mlp: profiles.smoke.train.lr: expected a positive number, got 'fast'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

from audit.claim_rules import check_comparisons, check_profile_fits_claim, check_runs_of
from audit.errors import InputError
from audit.seed_lists import parse_seed_list, seed_list_problem
from audit.setups import CLAIM, SETUPS_FILE, Resolved, Setups, load_setups, resolve
from audit.yamlio import read_yaml, yaml_files_in
from trm.config import MAX_DEPTH, DataConfig, ModelConfig, OptimConfig, TrainConfig
from trm.schema import ConfigError, at_most, from_dict, positive, spec

# Lower-case words joined by '/', '-', '_', '.'; no empty parts, no '..': ids become run directories.
CLAIM_ID = re.compile(r"^[a-z0-9][a-z0-9_.+-]*(/[a-z0-9][a-z0-9_.+-]*)*$")


MAX_NAME_PART = 100  # characters per '/'-separated part: each becomes a directory name (file systems allow 255 bytes)


def _claim_id(value: str) -> Optional[str]:
    if not CLAIM_ID.match(value) or ".." in value:
        return "expected lower-case words joined by '/', '-', '_' or '.' (no '..')"
    if max(len(part) for part in value.split("/")) > MAX_NAME_PART:
        return f"expected at most {MAX_NAME_PART} characters between slashes (each part is a directory name)"
    return None


def _percent(value: float) -> Optional[str]:
    return None if 0 <= value <= 100 else "expected a percentage between 0 and 100"


# A tolerance or margin above this says nothing: within 50 pp of a claimed percentage is at least half
# the scale (100 pp would accept any result at all), so no verdict could tell a reproduction from noise.
MAX_TOLERANCE_PP = 50.0


def _tolerance(value: float) -> Optional[str]:
    if value < 0:
        return "expected a number >= 0"
    if value > MAX_TOLERANCE_PP:
        return (f"expected at most {MAX_TOLERANCE_PP:g} pp (a wider band covers half the percentage scale "
                "and accepts any result)")
    return None


def _margin(value: float) -> Optional[str]:
    return "expected a positive number of percentage points" if value <= 0 else _tolerance(value)


def _band(value: Optional[tuple]) -> Optional[str]:
    if value is None:
        return None
    if len(value) != 2 or not 0 <= value[0] < value[1] <= 100:
        return f"expected [low, high] with 0 <= low < high <= 100 (percent), got {list(value)}"
    return None


def _non_empty(value: str) -> Optional[str]:
    return None if value.strip() else "expected a non-empty string"


@dataclass(frozen=True)
class CopiedFrom:
    """The document a claim's number was registered from, when it is a copy of the paper's table."""

    report: str = spec(check=_non_empty, doc="the copying document, e.g. a reproduction report")
    table: Optional[str] = spec(None, doc="its table or section holding the copy")
    url: Optional[str] = spec(None, doc="link, when there is one")


@dataclass(frozen=True)
class Source:
    """Where a claim was made: the paper's own table, and the copy we registered it from (if any)."""

    paper: str = spec(check=_non_empty, doc="title of the paper")
    arxiv: Optional[str] = spec(None, doc="arXiv id")
    table: Optional[str] = spec(None, doc="the paper's table or figure holding the number")
    url: Optional[str] = spec(None, doc="link, when there is one")
    copied_from: Optional[CopiedFrom] = spec(None, doc="the copy the number was registered from, when not the paper")


@dataclass(frozen=True)
class Protocol:
    """How the claimed number was evaluated."""

    weights: Literal["ema", "raw"] = spec("ema", doc="evaluated weights: the EMA copy or the raw ones")
    checkpoint: Literal["final", "best"] = spec("final", doc="which evaluation of a run is the result")
    pass_k: Optional[int] = spec(None, check=at_most(MAX_DEPTH), doc="k of pass@k (ARC), null otherwise")
    supervision_steps: int = spec(16, check=at_most(MAX_DEPTH), doc="supervision steps at test time (N_sup)")
    pooled_votes: Optional[bool] = spec(None, doc="ARC: votes pooled across a run's evaluations (true, TRM's "
                                        "evaluator) or one checkpoint's predictions scored alone (false, HRM's)")
    task_credit: Optional[Literal["fraction", "all"]] = spec(
        None, doc="ARC: a task scores the fraction of its test inputs solved (TRM) or 1 only when all are (HRM)")
    diverged: Literal["last_finite", "exclude"] = spec(
        "last_finite", doc="a run stopped on a non-finite loss: counted with its last finite evaluation, or "
                           "excluded; either way the count is reported")


@dataclass(frozen=True)
class OtherValue:
    """A different value for the same claim found elsewhere (shown in the report's registry notes)."""

    value: float = spec(check=_percent, doc="the other value, percent")
    where: str = spec(check=_non_empty, doc="where it appears")


@dataclass(frozen=True)
class Profile:
    """A complete training setup for a claim, plus what the report must say about it."""

    comparable: bool = spec(doc="judged against the claim (the paper's setup) or a proxy (not comparable)")
    description: str = spec("", doc="one line: what this profile is")
    hardware: Optional[str] = spec(None, doc="the hardware the authors state for this setup")
    time: Optional[str] = spec(None, doc="the run time the authors state")
    estimate: Optional[str] = spec(None, doc="our own cost estimate, where we have one")
    deviations: tuple[str, ...] = spec((), doc="declared deviations from the paper's recipe")
    band: Optional[tuple[float, ...]] = spec(None, check=_band, doc=(
        "a proxy's expected range [low, high] of the claim's metric (percent), registered before its verdict "
        "runs: the proxy is judged against it, never against the claimed number (audit/proxy_checks.py)"))
    regime: Optional[Literal["overfit"]] = spec(None, doc=(
        "a proxy that must overfit its few training puzzles (train exact >= 90% while test is far lower); "
        "the report checks it (audit/proxy_checks.py)"))
    seeds: tuple[int, ...] = spec((0,), check=seed_list_problem, doc=(
        "run seeds `trm-audit run` trains: a list [0, 1, 2] or a string of ranges '0-4', '0,2,5-7'"))
    seeds_note: str = spec("", doc=(
        "how the seed list came to be, where seeds were added after results were seen (an interim look, "
        "which the p-values do not correct for): shown beside the declared seeds in the report"))
    data_seed: Literal["run", "fixed"] = spec("run", doc=(
        "run: seed k builds its data with data.seed + k (its own subset and augmentations, as the official "
        "unseeded builders give every run); fixed: every seed trains on the data of data.seed"))
    model: ModelConfig = spec(ModelConfig(), doc="architecture")
    data: DataConfig = spec(DataConfig(), doc="benchmark and builder")
    train: OptimConfig = spec(OptimConfig(), doc="optimisation, budget, evaluation")
    name: str = field(default="", compare=False, metadata={"internal": True})
    resolution: Optional[Resolved] = field(default=None, compare=False, metadata={"internal": True})

    @property
    def config(self) -> TrainConfig:
        """The training setup of seed 0 (the same under either data_seed policy)."""
        return self.config_for(0)

    def config_for(self, seed: int) -> TrainConfig:
        """The training setup of run seed `seed`; with data_seed 'run' its data is built with
        data.seed + seed (the run seed itself where data.seed is 0, as in every Sudoku and Maze setup).

        An offset of the run seed, not a stream derived from it: the builders already draw each
        purpose from its own stream of [data.seed, purpose] (trm.data.prepare.rng_for), apart from
        the model's (trm.seeding); seed 0 keeps the declared data.seed, so the config of seed 0 is
        the same under both policies; and claims on one benchmark share seed k's subset, so their
        seed-k runs differ in the model only (and share one cached build).
        """
        data = replace(self.data, seed=self.data.seed + seed) if self.data_seed == "run" else self.data
        return TrainConfig(model=self.model, data=data, train=self.train, seed=seed)


@dataclass(frozen=True)
class Claim:
    """One claimed number of a paper, and how to test it."""

    id: str = spec(check=_claim_id, doc="unique id, e.g. sudoku-extreme/trm-mlp")
    statement: str = spec(check=_non_empty, doc="the claim, quoted or closely paraphrased")
    source: Source = spec(doc="where it was made")
    benchmark: str = spec(check=_non_empty, doc="e.g. sudoku-extreme, maze-hard, arc-agi-1")
    model: str = spec(check=_non_empty, doc="e.g. TRM-MLP, TRM-Attention, HRM")
    metric: Literal["exact_accuracy", "pass@1", "pass@2"] = spec(doc="what is measured")
    claimed: Optional[float] = spec(check=_percent, doc="claimed value in percent; null where none is given")
    split: Literal["test"] = spec("test", doc="the split the number is on")
    protocol: Protocol = spec(Protocol(), doc="how it was evaluated")
    params_m: Optional[float] = spec(None, check=positive, doc="stated parameter count, millions")
    tolerance_pp: float = spec(2.0, check=_tolerance, doc="|achieved - claimed| within this counts as reproduced")
    other_values: tuple[OtherValue, ...] = spec((), doc="other values for the same claim and where they appear")
    notes: str = spec("", doc="anything a reader of the report should know")
    runs_of: Optional[str] = spec(None, check=_claim_id, doc=(
        "the claim whose runs are this claim's evidence, scored by this claim's protocol (e.g. `weights: raw` "
        "of EMA runs); this claim trains nothing and its profiles must be that claim's"))
    profiles: dict = field(default_factory=dict, metadata={"internal": True})
    file: str = field(default="", compare=False, metadata={"internal": True})


@dataclass(frozen=True)
class Comparison:
    """A comparative claim: a's metric exceeds b's (tested one-tailed)."""

    id: str = spec(check=_claim_id, doc="unique id of the comparison")
    a: str = spec(check=_claim_id, doc="claim expected to be higher")
    b: str = spec(check=_claim_id, doc="claim expected to be lower")
    statement: str = spec(check=_non_empty, doc="the comparative claim in words")
    alternative: Literal["greater", "equivalent"] = spec("greater", doc=(
        "greater: a > b, one-tailed; equivalent: |a - b| < margin_pp (the paper reports no significant difference)"))
    margin_pp: Optional[float] = spec(None, check=_margin, doc="equivalence margin in pp (alternative: equivalent only)")
    file: str = field(default="", compare=False, metadata={"internal": True})


@dataclass(frozen=True)
class Registry:
    """Every loaded claim and comparison, in file order."""

    claims: tuple[Claim, ...]
    comparisons: tuple[Comparison, ...]

    def claim(self, claim_id: str) -> Claim:
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        known = ", ".join(c.id for c in self.claims)
        raise InputError(f"unknown claim {claim_id!r} (known: {known})")


def load_registry(paths: Iterable[Path | str]) -> Registry:
    """Load and validate claims files (a directory means every *.yaml in it, sorted).

    Raises InputError with one line naming the file, the claim and the field.
    """
    files = _expand(paths)
    claims: list[Claim] = []
    comparisons: list[Comparison] = []
    seen: dict[str, str] = {}
    setups_by_dir: dict[Path, Setups] = {}
    for path in files:
        if path.parent not in setups_by_dir:
            setups_by_dir[path.parent] = load_setups(path.parent, Profile)
        file_claims, file_comparisons = _load_file(path, setups_by_dir[path.parent])
        for claim in file_claims:
            if claim.id in seen:
                raise InputError(f"{path}: {claim.id}: id: duplicate claim id (first defined in {seen[claim.id]})")
            seen[claim.id] = str(path)
        claims.extend(file_claims)
        comparisons.extend(file_comparisons)
    check_comparisons(comparisons, {claim.id: claim for claim in claims})
    check_runs_of(claims)
    return Registry(tuple(claims), tuple(comparisons))


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    """The claims files named by `paths` (files, or directories whose `*.yaml` files are read)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(p for p in yaml_files_in(path, "claims") if p.name != SETUPS_FILE)
        elif path.is_file() and path.name == SETUPS_FILE:
            continue  # base setups, read with the claims files next to them (a shell glob claims/*.yaml names it)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such claims file or directory")
    if not files:
        raise InputError("no claims files found in " + ", ".join(str(p) for p in paths))
    return files


def _load_file(path: Path, setups: Setups) -> tuple[list[Claim], list[Comparison]]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with 'claims' and/or 'comparisons', got {type(data).__name__}")
    unknown = sorted(set(data) - {"claims", "comparisons"})
    if unknown:
        raise InputError(f"{path}: {unknown[0]}: unknown key (known keys: claims, comparisons)")
    claims = [_parse_claim(path, i, body, setups) for i, body in enumerate(_as_list(path, data, "claims"))]
    comparisons = [_parse_comparison(path, i, body) for i, body in enumerate(_as_list(path, data, "comparisons"))]
    if not claims and not comparisons:
        raise InputError(f"{path}: claims: no claims or comparisons in the file")
    return claims, comparisons


def _as_list(path: Path, data: dict, key: str) -> list:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{path}: {key}: expected a list, got {type(value).__name__}")
    return value


def _item_label(body: Any, key: str, index: int) -> str:
    """The claim's id when it has a usable one, else its position: 'claims[2]'."""
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
        return body["id"]
    return f"{key}[{index}]"


def _parse_claim(path: Path, index: int, body: Any, setups: Setups) -> Claim:
    label = _item_label(body, "claims", index)
    try:
        if not isinstance(body, dict):
            raise ConfigError("", f"expected a mapping, got {body!r}")
        fields = {k: v for k, v in body.items() if k != "profiles"}
        claim = from_dict(Claim, fields)
        profiles = _parse_profiles(body.get("profiles"), claim, setups)
    except ConfigError as err:
        raise InputError(f"{path}: {label}: {err}") from None
    return replace(claim, profiles=profiles, file=str(path))


def _parse_profiles(raw: Any, claim: Claim, setups: Setups) -> dict[str, Profile]:
    if raw is None:
        raise ConfigError("profiles", "missing required key")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("profiles", f"expected a non-empty mapping of profile name to setup, got {raw!r}")
    profiles = {}
    for name, body in raw.items():
        where = f"profiles.{name}"
        if not isinstance(name, str) or not CLAIM_ID.match(name) or _claim_id(name):
            raise ConfigError(where, "expected a profile name of lower-case letters, digits and '-' "
                              f"(at most {MAX_NAME_PART} characters)")
        profile = _resolve_profile(body, setups, where, name)
        check_profile_fits_claim(profile, claim, where)
        profiles[name] = profile
    return profiles


def _resolve_profile(body: Any, setups: Setups, where: str, name: str) -> Profile:
    """The profile `body` with its base setups merged in; a bad value from a setup names that setup."""
    try:
        resolved = resolve(body, setups, Profile)
    except ConfigError as err:
        raise err.prefixed(where) from None
    try:
        profile = from_dict(Profile, _seed_range_as_list(resolved.body, where), where)
    except ConfigError as err:
        origin = resolved.origins.get(err.field.removeprefix(f"{where}."), CLAIM)
        if origin == CLAIM:
            raise
        raise ConfigError(err.field, f"{err.reason} (set by setup {origin!r} in {setups.file})") from None
    return replace(profile, name=name, resolution=resolved)


def _seed_range_as_list(body: dict, where: str) -> dict:
    """The body with a `seeds` string ('0-4', '0,2,5-7') spelled out as the list it names."""
    if isinstance(body.get("seeds"), str):
        return {**body, "seeds": list(parse_seed_list(body["seeds"], f"{where}.seeds"))}
    return body


def _parse_comparison(path: Path, index: int, body: Any) -> Comparison:
    label = _item_label(body, "comparisons", index)
    try:
        comparison = from_dict(Comparison, body)
    except ConfigError as err:
        raise InputError(f"{path}: {label}: {err}") from None
    if comparison.a == comparison.b:
        raise InputError(f"{path}: {label}: b: compares a claim with itself ({comparison.a!r})")
    if (comparison.alternative == "equivalent") != (comparison.margin_pp is not None):
        raise InputError(f"{path}: {label}: margin_pp: an equivalence needs its margin and only an equivalence has one, "
                         f"got alternative {comparison.alternative!r} with margin_pp {comparison.margin_pp!r}")
    return replace(comparison, file=str(path))


# A quick try of a profile (`trm-audit run --max-steps N`): the profile capped at N optimizer steps,
# recorded under its own name so that it is never pooled with the full runs, and never comparable.
BUDGET_CUT = re.compile(r"^(?P<base>.+)@max-steps-(?P<steps>[1-9][0-9]*)$")


def budget_cut_name(profile_name: str, max_steps: int) -> str:
    """The profile name a try of `profile_name` capped at `max_steps` steps records under, e.g. 'paper@max-steps-20'."""
    return f"{profile_name}@max-steps-{max_steps}"


def budget_cut(profile: Profile, max_steps: int) -> Profile:
    """`profile` capped at `max_steps` optimizer steps (train.max_steps; a smaller cap of its own stays),
    not comparable, with the cut declared as a deviation; named `budget_cut_name(profile.name, max_steps)`."""
    cap = max_steps if profile.train.max_steps is None else min(max_steps, profile.train.max_steps)
    cut = (f"budget cut: at most {max_steps} optimizer steps (trm-audit run --max-steps {max_steps}), a quick try "
           f"of profile {profile.name!r}; not evidence for the claim and never pooled with {profile.name!r}")
    return replace(profile, name=budget_cut_name(profile.name, max_steps), comparable=False,
                   train=replace(profile.train, max_steps=cap), deviations=(*profile.deviations, cut),
                   description=f"{profile.description} (capped at {max_steps} steps)".strip())


def resolve_profile(claim: Claim, name: str) -> Optional[Profile]:
    """The claim's profile called `name`: a declared one, or a budget cut 'P@max-steps-N' of a declared P;
    None when there is neither (the profile was removed from the registry)."""
    if name in claim.profiles:
        return claim.profiles[name]
    match = BUDGET_CUT.match(name)
    if match and match["base"] in claim.profiles:
        return budget_cut(claim.profiles[match["base"]], int(match["steps"]))
    return None
