"""The summary of an audit as typed, frozen records: what `reports/summary.json` holds, and its bytes.

audit.aggregate builds a `Summary`; the report (audit.report, audit.figures, the template) reads its
attributes. `Summary.to_json()` is the file: every field under its own name, sorted keys, floats at
full precision, no NaN, a final newline. Percent everywhere; None (JSON null) means undefined.
The meaning of each field is documented in audit.aggregate.build_summary. A new field goes into
its record here and is filled where that record is built (audit.aggregate, audit.comparisons).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from audit.sources import Excluded, SeedReading, WilsonReading

Pair = Optional[tuple]  # [low, high] of an interval, or None


@dataclass(frozen=True)
class RunEntry:
    """One counted run (or a Wilson-declared published summary shown as one evaluation, seed None)."""

    seed: Optional[int]
    value: float
    correct: Optional[float]
    total: Optional[float]
    wilson95: Pair


@dataclass(frozen=True)
class PublishedEntry:
    """An external summary as published: mean ± pm, what the ± is, run count and test-set size."""

    mean: float
    pm: Optional[float]
    pm_kind: str
    n_seeds: Optional[int]
    test_size: Optional[int]


@dataclass(frozen=True)
class OtherValueResult:
    """A result judged by the same rule against another published value of its claim (registry
    `other_values`): the tests, Holm-adjusted p, verdict and reason as for the claimed value."""

    claimed: float
    where: str
    d: Optional[float]
    p_below_claim: Optional[float]
    p_above_claim: Optional[float]
    p_equiv: Optional[float]
    p_adjusted: Optional[float]
    verdict: Optional[str]
    reason: Optional[str]


@dataclass(frozen=True)
class SourceResult:
    """One (claim, source): its statistics, tests against the claim, verdict and the runs behind them."""

    source: str
    kind: str
    comparable: bool
    deviations: tuple
    n: Optional[int]
    values: tuple
    mean: Optional[float]
    sd: Optional[float]
    se: Optional[float]
    ci95: Pair
    ci95_display: Pair
    ci95_clipped: bool
    d: Optional[float]
    t: Optional[float]
    df: Optional[float]
    p_below_claim: Optional[float]
    p_above_claim: Optional[float]
    p_equiv: Optional[float]
    p_adjusted: Optional[float]
    verdict: Optional[str]
    reason: Optional[str]
    other_values: tuple[OtherValueResult, ...]
    failed: int
    stale: int
    excluded: tuple[Excluded, ...]
    runs: tuple[RunEntry, ...]
    published: Optional[PublishedEntry]
    readings: Optional[tuple[Union[SeedReading, WilsonReading], ...]]
    declared_seeds: Optional[tuple[int, ...]] = None  # the profile's declared seeds (None: an external result)
    seeds_note: Optional[str] = None  # how those seeds came to be, where some were added after a look at results
    data_seed: Optional[str] = None  # the profile's data policy, 'run' or 'fixed' (None: an external result)
    diverged: int = 0  # runs that stopped on a non-finite loss, counted or excluded per protocol.diverged
    divergence: Optional[str] = None  # those runs in words (audit.sources.divergence_note); in the reason too
    not_comparable: tuple[str, ...] = ()  # why a profile declared comparable is not, from its runs' data


@dataclass(frozen=True)
class ClaimSummary:
    """One claim as the registry states it, and a result per source."""

    id: str
    statement: str
    benchmark: str
    model: str
    metric: str
    claimed: Optional[float]
    tolerance_pp: float
    results: tuple[SourceResult, ...]


@dataclass(frozen=True)
class ProportionTest:
    """Two single evaluations compared by their counts (test-set noise only)."""

    diff: Optional[float]
    z: Optional[float]
    p: Optional[float]
    note: str


@dataclass(frozen=True)
class ComparisonReading:
    """A comparison with an unknown ± read one way (sd, se or ci95) at the row's run counts."""

    reading: str
    n: Optional[int]
    n_assumed: bool
    n_a: Optional[int]
    n_b: Optional[int]
    diff: Optional[float]
    z: Optional[float]
    p_z: Optional[float]
    t: Optional[float]
    df: Optional[float]
    p_welch: Optional[float]


@dataclass(frozen=True)
class WilsonComparisonReading(ComparisonReading):
    """Both arms read as one evaluation each: a two-proportion z-test, with what it measures."""

    note: str = ""


@dataclass(frozen=True)
class ComparisonResult:
    """One registry comparison on one source both arms have: its tests and its verdict.

    `alternative`: 'greater' (a > b) or 'equivalent' (|a - b| < margin_pp, `p_equiv` its TOST p before
    Holm). `method`: 'raw' (per-seed values), 'summary' (means, SDs, n) or 'paired' (both arms from the
    same runs: n_a = n_b = the seeds matched, means over them, t / df / p_welch of the paired t-test).
    """

    id: str
    a: str
    b: str
    source: str
    kind: str
    comparable: bool
    proxy: bool
    method: Optional[str]
    n_a: Optional[int]
    n_b: Optional[int]
    mean_a: Optional[float]
    mean_b: Optional[float]
    diff: Optional[float]
    z: Optional[float]
    p_z: Optional[float]
    t: Optional[float]
    df: Optional[float]
    p_welch: Optional[float]
    p_adjusted: Optional[float]
    verdict: Optional[str]
    reason: Optional[str]
    poi: Optional[float]
    seeds_needed: Optional[int]
    seeds_at_holm: Optional[int]  # seeds_needed at the alpha Holm holds this comparison to (None outside the family)
    proportion_test: Optional[ProportionTest]
    readings: Optional[tuple[ComparisonReading, ...]]
    alternative: str = "greater"
    margin_pp: Optional[float] = None
    p_equiv: Optional[float] = None


@dataclass(frozen=True)
class ExternalProvenance:
    """Where an imported result set comes from."""

    id: str
    file: str
    title: str
    authors: tuple
    link: Optional[str]
    date: Optional[str]
    venue: Optional[str]
    verified: bool
    note: Optional[str]
    comparable: bool
    hardware: Optional[str]
    deviations: tuple


@dataclass(frozen=True)
class Settings:
    """The statistical settings the summary was computed under."""

    verdict_rule: str
    alpha: float
    eps: float
    level: float
    multiplicity: str
    comparison_multiplicity: str
    assumed_seeds: tuple


@dataclass(frozen=True)
class Summary:
    """Everything the report says, computed once (audit.aggregate.build_summary)."""

    format_version: int
    settings: Settings
    claims: tuple[ClaimSummary, ...]
    comparisons: tuple[ComparisonResult, ...]
    externals: tuple[ExternalProvenance, ...]
    problems: tuple[str, ...]
    # Input file (as the report was asked to read it) -> SHA-256 of its bytes: every run.json, the
    # metrics.csv beside each readable one, external result files and claims files. `report --check`
    # names the input whose content changed instead of the first report line that did (audit.report).
    inputs: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """The summary as plain JSON data (dicts, lists, numbers, strings, None)."""
        return plain(self)

    def to_json(self) -> str:
        """The exact text of summary.json: sorted keys, floats at full precision, no NaN, final newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def plain(value: Any) -> Any:
    """A dataclass, tuple or list (nested) as JSON data: each dataclass field under its own name."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value
