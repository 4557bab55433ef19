"""From run records and external results to `reports/summary.json`: statistics, verdicts, comparisons.

    records + externals --sources.collect_sources--> SourceData per (claim, source)
        --describe_result: seed statistics, one-sample tests--> one SourceResult per (claim, source)
        --judge: Holm across the report, then the verdict rule--> verdicts
        --comparisons_for: each registry comparison on each source both arms have--> ComparisonResults
        --build_summary--> a Summary (audit.summary; the report's only input) --write_summary--> JSON

The statistics themselves are in audit.stats and the per-source data in audit.sources; this
module only arranges them. Percent everywhere; None (JSON null) means undefined.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from audit import stats
from audit.records import write_bytes_atomic
from audit.sources import (ASSUMED_SEEDS, Published, RunValue, SourceData, as_pair, collect_sources, readings,
                           sd_under, seed_counts, single_evaluation, source_stats)
from audit.summary import (ClaimSummary, ComparisonReading, ComparisonResult, ExternalProvenance, ProportionTest,
                           PublishedEntry, RunEntry, Settings, SourceResult, Summary, WilsonComparisonReading)

SUMMARY_FORMAT_VERSION = 1
PROPORTION_NOTE = "two single evaluations: measures test-set sampling noise only, not seed-to-seed spread"


def _run_entry(run: RunValue) -> RunEntry:
    wilson = None
    if run.correct is not None and run.total:
        wilson = as_pair(stats.wilson_interval(run.correct, run.total))
    return RunEntry(run.seed, run.value, run.correct, run.total, wilson)


def _published_runs(pub: Published) -> tuple[RunEntry, ...]:
    """A Wilson-declared summary is one evaluation: show it as one run with its interval."""
    if pub.pm_kind != "wilson95" or pub.test_size is None:
        return ()
    correct = pub.mean / 100 * pub.test_size
    return (RunEntry(None, pub.mean, None, pub.test_size, as_pair(stats.wilson_interval(correct, pub.test_size))),)


def describe_result(claim, source: SourceData) -> SourceResult:
    """The result of one (claim, source) before Holm: p_adjusted, verdict and reason are None (see judge)."""
    s = source_stats(source)
    d = None if claim.claimed is None or s.mean is None else s.mean - claim.claimed
    if claim.claimed is None:
        test = stats.OneSampleTest(None, None, None, None)
    else:
        test = stats.one_sample_test(s.mean, s.se, s.n or 0, claim.claimed)
    pub = source.published
    return SourceResult(
        source=source.source, kind=source.kind, comparable=source.comparable, deviations=tuple(source.deviations),
        n=s.n, values=tuple(run.value for run in source.runs), mean=s.mean, sd=s.sd, se=s.se,
        ci95=as_pair(s.ci), d=d, t=test.t, df=test.df,
        p_below_claim=test.p_below, p_above_claim=test.p_above, p_adjusted=None, verdict=None, reason=None,
        failed=sum(e.status == "failed" for e in source.excluded),
        stale=sum(e.status == "stale" for e in source.excluded),
        excluded=tuple(source.excluded),
        runs=tuple(_run_entry(run) for run in source.runs) + (_published_runs(pub) if pub else ()),
        published=None if pub is None else PublishedEntry(pub.mean, pub.pm, pub.pm_kind, pub.n_seeds,
                                                          pub.test_size),
        readings=readings(pub) if pub else None,
        declared_seeds=source.declared_seeds, data_seed=source.data_seed,
    )


def judge(claims: Sequence, results: Sequence[list[SourceResult]]) -> list[list[SourceResult]]:
    """Holm across every comparable, testable result of the report, then each verdict; returns the
    results with p_adjusted, verdict and reason filled in (same nesting: per claim, per source).

    The family: each comparable result with a claimed value and a defined test contributes one
    directional p (p_below if d < 0, else p_above), including those clause 1 will call REPRODUCED.
    """
    family = []
    for i, (claim, claim_results) in enumerate(zip(claims, results)):
        for j, result in enumerate(claim_results):
            if result.comparable and claim.claimed is not None:
                p = stats.directional_p(result.d, result.p_below_claim, result.p_above_claim)
                if p is not None:
                    family.append(((i, j), p))
    adjusted = {key: p for (key, _), p in zip(family, stats.holm_adjust([p for _, p in family]))}
    judged = []
    for i, (claim, claim_results) in enumerate(zip(claims, results)):
        row = []
        for j, result in enumerate(claim_results):
            p_adjusted = adjusted.get((i, j))
            verdict = stats.decide_verdict(comparable=result.comparable, claimed=claim.claimed, n=result.n,
                                           d=result.d, p_adjusted=p_adjusted, tolerance_pp=claim.tolerance_pp)
            row.append(replace(result, p_adjusted=p_adjusted, verdict=verdict.label, reason=verdict.reason))
        judged.append(row)
    return judged


# --- comparisons -------------------------------------------------------------------------------

def compare(comparison, a: SourceData, b: SourceData) -> ComparisonResult:
    """One registry comparison (a > b, one-tailed) on one source present on both arms.

    From raw per-seed values when both arms have them, else from summaries (mean, SD, n); every
    statistic None where undefined. `proportion_test`: when each arm is one evaluation with counts
    (test-set noise only). `readings`: when an arm's ± has unknown meaning, the same comparison
    under each reading of it, side by side (a known arm keeps its own numbers).
    """
    sa, sb = source_stats(a), source_stats(b)
    if a.published is None and b.published is None:
        test, method = stats.compare_samples([r.value for r in a.runs], [r.value for r in b.runs]), "raw"
    elif sa.mean is None or sb.mean is None:
        test, method = stats.TwoSampleTest(None, None, None, None, None, None), None
    else:
        test = stats.compare_means(sa.mean, sa.sd, sa.n or 0, sb.mean, sb.sd, sb.n or 0)
        method = "summary"
    proxy = not (a.comparable and b.comparable)
    return ComparisonResult(
        id=comparison.id, a=comparison.a, b=comparison.b, source=a.source, comparable=not proxy, proxy=proxy,
        method=method, n_a=sa.n, n_b=sb.n, mean_a=sa.mean, mean_b=sb.mean, diff=test.diff, z=test.z,
        p_z=test.p_z, t=test.t, df=test.df, p_welch=test.p_welch, proportion_test=_proportion_test(a, b),
        readings=_comparison_readings(a, b, sa, sb),
    )


def _proportion_test(a: SourceData, b: SourceData) -> Optional[ProportionTest]:
    ca, cb = single_evaluation(a), single_evaluation(b)
    if ca is None or cb is None:
        return None
    test = stats.two_proportion_test(*ca, *cb)
    return ProportionTest(test.diff, test.z, test.p, PROPORTION_NOTE)


def _comparison_readings(a: SourceData, b: SourceData, sa, sb) -> Optional[tuple[ComparisonReading, ...]]:
    """The comparison with each unknown ± read as an SD, an SE and a t half-width, then as Wilson.

    An arm whose ± is unknown uses its stated run count, else the row's assumed n (ASSUMED_SEEDS);
    `n` is None on the rows when every such arm states its count. n_a and n_b are the counts used.
    """
    unknown = [s.published is not None and s.published.pm_kind == "unknown" and s.published.pm is not None
               for s in (a, b)]
    if not any(unknown):
        return None
    needs_n = any(u and s.published.n_seeds is None for s, u in zip((a, b), unknown))
    counts = seed_counts(None) if needs_n else [(None, False)]
    rows = []
    for kind in ("sd", "se", "ci95"):
        for n, assumed in counts:
            arms = [_arm_under(src, st, u, kind, n) for src, st, u in zip((a, b), (sa, sb), unknown)]
            test = stats.compare_means(*arms[0], *arms[1])
            rows.append(ComparisonReading(kind, n, assumed, arms[0][2], arms[1][2], test.diff, test.z, test.p_z,
                                          test.t, test.df, test.p_welch))
    rows.append(_wilson_comparison(a, b, unknown))
    return tuple(rows)


def _arm_under(source: SourceData, s: stats.SampleStats, unknown: bool, kind: str, n: Optional[int]) -> tuple:
    """(mean, sd, n) of an arm, reading its ± as `kind` when its meaning is unknown (over its stated n, else n)."""
    if not unknown:
        return s.mean, s.sd, s.n or 0
    pub = source.published
    runs = pub.n_seeds if pub.n_seeds is not None else n
    return pub.mean, sd_under(kind, pub.pm, runs), runs


def _wilson_comparison(a: SourceData, b: SourceData, unknown: list[bool]) -> WilsonComparisonReading:
    """Both arms read as one evaluation each at their stated test-set size: two-proportion z-test."""
    row = WilsonComparisonReading("wilson95", 1, True, 1, 1, None, None, None, None, None, None, PROPORTION_NOTE)
    arms = []
    for source, u in zip((a, b), unknown):
        pub = source.published
        arms.append((pub.mean / 100 * pub.test_size, pub.test_size) if u and pub.test_size
                    else single_evaluation(source))
    if None not in arms:
        test = stats.two_proportion_test(*arms[0], *arms[1])
        row = replace(row, diff=test.diff, z=test.z, p_z=test.p)
    return row


def comparisons_for(registry, sources: Sequence[SourceData]) -> list[ComparisonResult]:
    """Every registry comparison on every source name present on both arms, in registry order."""
    by_claim: dict[str, dict[tuple[str, str], SourceData]] = {}
    for source in sources:  # keyed by kind too: an external set named like a profile is another source
        by_claim.setdefault(source.claim_id, {})[(source.kind, source.source)] = source
    rows = []
    for comparison in registry.comparisons:
        arm_a, arm_b = by_claim.get(comparison.a, {}), by_claim.get(comparison.b, {})
        for key in arm_a:
            if key in arm_b:
                rows.append(compare(comparison, arm_a[key], arm_b[key]))
    return rows


# --- the summary -------------------------------------------------------------------------------

def build_summary(registry, records: Iterable, externals: Iterable, problems: Sequence[str] = ()) -> Summary:
    """The summary (audit.summary.Summary; `to_json()` is reports/summary.json). Percent everywhere;
    null where undefined. Its fields, as JSON names them:

    claims[]: id, statement, benchmark, model, metric, claimed, tolerance_pp, results[]. A result is
      one (claim, source): source (profile name or external source name), kind ("profile" |
      "external"), comparable, deviations; n (completed current runs; for a published summary
      the stated run count or null), values (per seed, same order as runs), mean, sd (ddof 1),
      se, ci95 ([low, high], Student t, n-1 df), d (mean - claimed), t, df, p_below_claim,
      p_above_claim (one-sided one-sample t-tests), p_adjusted (Holm across the report, null when
      not in the family), verdict (stats.VERDICTS) and reason (one line); failed and stale
      (counts) with excluded[] {seed, status, reason, value}; runs[] {seed, value, correct, total,
      wilson95 [low, high]} (one per value; a Wilson-declared summary shows as one run with seed
      null); published {mean, pm, pm_kind, n_seeds, test_size} and readings[] for externals
      (see `readings`), else null.
    comparisons[]: id, a, b, source, comparable, proxy (true when either arm is a proxy profile),
      method ("raw" | "summary" | null), n_a, n_b, mean_a, mean_b, diff (mean_a - mean_b), z, p_z
      (one-tailed z-test), t, df, p_welch (Welch, one-tailed), proportion_test {diff, z, p, note}
      or null, readings[] (the comparison under each reading of an unknown ±) or null.
    externals[]: the imported result sets' provenance. settings: alpha, eps, level, multiplicity,
    assumed_seeds. problems: records that could not be used (unreadable, unknown claim).
    """
    records, externals = list(records), list(externals)
    sources, collect_problems = collect_sources(registry, records, externals)
    claims = list(registry.claims)
    results = judge(claims, [[describe_result(claim, s) for s in sources if s.claim_id == claim.id]
                             for claim in claims])
    return Summary(
        format_version=SUMMARY_FORMAT_VERSION,
        settings=Settings(stats.ALPHA, stats.EPS, stats.LEVEL, "holm over the comparable claim results of this report",
                          tuple(ASSUMED_SEEDS)),
        claims=tuple(_claim_summary(claim, claim_results) for claim, claim_results in zip(claims, results)),
        comparisons=tuple(comparisons_for(registry, sources)),
        externals=tuple(_provenance(s) for s in sorted(externals, key=lambda s: s.id)),
        problems=tuple(problems) + tuple(collect_problems),
    )


def _claim_summary(claim, results: list[SourceResult]) -> ClaimSummary:
    return ClaimSummary(claim.id, claim.statement, claim.benchmark, claim.model, claim.metric, claim.claimed,
                        claim.tolerance_pp, tuple(results))


def _provenance(result_set) -> ExternalProvenance:
    src = result_set.source
    return ExternalProvenance(result_set.id, result_set.file, src.title, tuple(src.authors), src.link, src.date,
                              src.venue, src.verified, src.note, result_set.comparable, result_set.hardware,
                              tuple(result_set.deviations))


def write_summary(summary: Summary, path: Path | str) -> Path:
    """Write summary.json atomically: readers see the old file or the new one (same content, same bytes)."""
    write_bytes_atomic(Path(path), summary.to_json().encode("utf-8"))
    return Path(path)
