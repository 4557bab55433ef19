"""From run records and external results to `reports/summary.json`: statistics, verdicts, comparisons.

    records + externals --sources.collect_sources--> SourceData per (claim, source)
        --describe_result: seed statistics, rule v3's tests against each published value-->
          one SourceResult per (claim, source)
        --judge: Holm across the report, then rule v3--> verdicts
        --comparisons.comparisons_for: each registry comparison on each source both arms have,
          judged--> ComparisonResults
        --build_summary--> a Summary (audit.summary; the report's only input) --write_summary--> JSON

The statistics are in audit.stats, the decision rules in audit.verdicts and the per-source data in
audit.sources; this module only arranges them. Percent everywhere; None (JSON null) means undefined.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from audit import stats
from audit.comparisons import MULTIPLICITY as COMPARISON_MULTIPLICITY
from audit.comparisons import comparisons_for
from audit.records import write_bytes_atomic
from audit.evidence import checkpoint_rule
from audit.sources import (ASSUMED_SEEDS, Published, RunValue, SourceData, as_pair, collect_sources, divergence_note,
                           readings, source_stats)
from audit.summary import (ClaimSummary, ExternalProvenance, OtherValueResult, PublishedEntry, RunEntry, Settings,
                           SourceResult, Summary)
from audit.verdicts import ClaimTest, claim_test, decide_claim_verdict, family_p

SUMMARY_FORMAT_VERSION = 2  # 2: rule v3 (p_equiv, CONSISTENT, verdicts against other values), comparison verdicts
VERDICT_RULE = "v3"
MULTIPLICITY = ("holm over the comparable claim results of this report with n >= 2, one member per published "
                "value (the claimed one and each other value)")


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
    """The result of one (claim, source) before Holm: p_adjusted, verdict and reason are None (see judge).

    The tests against the claimed value (and against each of the claim's `other_values`) are rule
    v3's (audit.verdicts.claim_test), computed for proxies too: shown, never judged.
    """
    s = source_stats(source)
    t, df, p_below, p_above, p_equiv = _numbers(_test_against(s, claim.claimed, claim.tolerance_pp))
    shown = None if s.ci is None else stats.clip_percent(s.ci.low, s.ci.high)
    pub = source.published
    return SourceResult(
        source=source.source, kind=source.kind, comparable=source.comparable, deviations=tuple(source.deviations),
        n=s.n, values=tuple(run.value for run in source.runs), mean=s.mean, sd=s.sd, se=s.se,
        ci95=as_pair(s.ci), ci95_display=None if shown is None else [shown.low, shown.high],
        ci95_clipped=shown is not None and shown.clipped,
        d=None if claim.claimed is None or s.mean is None else s.mean - claim.claimed,
        t=t, df=df, p_below_claim=p_below, p_above_claim=p_above, p_equiv=p_equiv,
        p_adjusted=None, verdict=None, reason=None,
        other_values=tuple(_other_value(s, other, claim.tolerance_pp) for other in claim.other_values),
        failed=sum(e.status == "failed" for e in source.excluded),
        stale=sum(e.status == "stale" for e in source.excluded),
        excluded=tuple(source.excluded),
        runs=tuple(_run_entry(run) for run in source.runs) + (_published_runs(pub) if pub else ()),
        published=None if pub is None else PublishedEntry(pub.mean, pub.pm, pub.pm_kind, pub.n_seeds,
                                                          pub.test_size),
        readings=readings(pub) if pub else None,
        declared_seeds=source.declared_seeds, seeds_note=source.seeds_note, data_seed=source.data_seed,
        diverged=source.diverged, divergence=divergence_note(source, checkpoint_rule(claim)),
        not_comparable=tuple(source.not_comparable),
    )


def _test_against(s: stats.SampleStats, claimed: Optional[float], tolerance_pp: float) -> Optional[ClaimTest]:
    """Rule v3's tests of a source's seed statistics against one published value; None when untestable."""
    return None if claimed is None else claim_test(s.mean, s.se, s.n, claimed, tolerance_pp)


def _numbers(test: Optional[ClaimTest]) -> tuple:
    """(t, df, p_below, p_above, p_equiv) of a test, all None when there is none."""
    return (None,) * 5 if test is None else (test.t, test.df, test.p_below, test.p_above, test.p_equiv)


def _other_value(s: stats.SampleStats, other, tolerance_pp: float) -> OtherValueResult:
    """A result against another published value of its claim (registry `other_values`), before Holm."""
    _, _, p_below, p_above, p_equiv = _numbers(_test_against(s, other.value, tolerance_pp))
    d = None if s.mean is None else s.mean - other.value
    return OtherValueResult(other.value, other.where, d, p_below, p_above, p_equiv, None, None, None)


def judge(claims: Sequence, results: Sequence[list[SourceResult]]) -> list[list[SourceResult]]:
    """Holm across every comparable, tested result of the report, then rule v3; returns the results
    with p_adjusted, verdict and reason filled in (same nesting: per claim, per source), also on
    each of their `other_values`.

    The family: each comparable result with n >= 2 and a known SE contributes one p per published
    value it is tested against (the claimed value, then each other value of the claim):
    `verdicts.family_p`, i.e. p_equiv when |d| <= tol + EPS, else p_below or p_above by the sign of d.
    """
    family = {}  # (claim index, result index, None for the claimed value or the other value's index) -> p
    for i, (claim, claim_results) in enumerate(zip(claims, results)):
        for j, result in enumerate(claim_results):
            if not result.comparable:
                continue
            values = [(None, claim.claimed)] + [(k, other.value) for k, other in enumerate(claim.other_values)]
            for k, value in values:
                p = None if value is None else family_p(claim_test(result.mean, result.se, result.n, value,
                                                                   claim.tolerance_pp))
                if p is not None:
                    family[(i, j, k)] = p
    adjusted = dict(zip(family, stats.holm_adjust(list(family.values()))))
    judged = []
    for i, (claim, claim_results) in enumerate(zip(claims, results)):
        row = []
        for j, result in enumerate(claim_results):
            main = _decide(result, claim.claimed, result.d, adjusted.get((i, j, None)), claim.tolerance_pp)
            others = tuple(replace(other, p_adjusted=adjusted.get((i, j, k)),
                                   **_decide(result, other.claimed, other.d, adjusted.get((i, j, k)),
                                             claim.tolerance_pp))
                           for k, other in enumerate(result.other_values))
            row.append(replace(result, p_adjusted=adjusted.get((i, j, None)), other_values=others, **main))
        judged.append(row)
    return judged


def _decide(result: SourceResult, claimed: Optional[float], d: Optional[float], p_adjusted: Optional[float],
            tolerance_pp: float) -> dict:
    """The verdict and its reason; the reason also names what the runs' data made not comparable
    and any run that diverged, so neither is left out of what the verdict says."""
    verdict = decide_claim_verdict(comparable=result.comparable, claimed=claimed, n=result.n, d=d, sd=result.sd,
                                   p_adjusted=p_adjusted, tolerance_pp=tolerance_pp)
    reason = verdict.reason
    if result.not_comparable:
        reason = "not comparable: " + "; ".join(result.not_comparable)
    if result.divergence:
        reason = f"{reason}; {result.divergence}"
    return {"verdict": verdict.label, "reason": reason}


# --- the summary -------------------------------------------------------------------------------

def build_summary(registry, records: Iterable, externals: Iterable, problems: Sequence[str] = ()) -> Summary:
    """The summary (audit.summary.Summary; `to_json()` is reports/summary.json). Percent everywhere;
    null where undefined. Its fields, as JSON names them:

    claims[]: id, statement, benchmark, model, metric, claimed, tolerance_pp, results[]. A result is
      one (claim, source): source (profile name or external source name), kind ("profile" |
      "external"), comparable, deviations; n (completed current runs; for a published summary
      the stated run count or null), values (per seed, same order as runs), mean, sd (ddof 1),
      se, ci95 ([low, high], Student t, n-1 df), ci95_display (ci95 clipped to [0, 100], what the
      report shows) and ci95_clipped (true when clipping changed it), d (mean - claimed), t, df,
      p_below_claim, p_above_claim (one-sided one-sample t-tests), p_equiv (TOST against
      claimed ± tolerance_pp), p_adjusted (Holm across the report, see `judge`; null when not in
      the family), verdict (verdicts.CLAIM_VERDICTS, rule v3) and reason (one line);
      other_values[] {claimed, where, d, p_below_claim, p_above_claim, p_equiv, p_adjusted,
      verdict, reason}: the same against each other published value of the claim; failed and stale
      (counts) with excluded[] {seed, status, reason, value}; runs[] {seed, value, correct, total,
      wilson95 [low, high]} (one per value; a Wilson-declared summary shows as one run with seed
      null); published {mean, pm, pm_kind, n_seeds, test_size} and readings[] for externals
      (see `readings`), else null.
    comparisons[]: id, a, b, source, kind, comparable, proxy (true when either arm is a proxy
      profile), method ("raw" | "summary" | null), n_a, n_b, mean_a, mean_b, diff (mean_a -
      mean_b), z, p_z (one-tailed z-test of a > b), t, df, p_welch (Welch, one-tailed, a > b),
      p_adjusted (Holm over the report's comparisons of the observed direction's Welch p),
      verdict (verdicts.COMPARISON_VERDICTS) and reason, poi (probability of improvement, raw
      per-seed values only), seeds_needed (per arm, to decide an INCONCLUSIVE one at the observed
      SDs), proportion_test {diff, z, p, note} or null, readings[] (the comparison under each
      reading of an unknown ±) or null (audit.comparisons).
    externals[]: the imported result sets' provenance. settings: verdict_rule, alpha, eps, level,
    multiplicity, comparison_multiplicity, assumed_seeds. problems: records that could not be used
    (unreadable, unknown claim).
    """
    records, externals = list(records), list(externals)
    sources, collect_problems = collect_sources(registry, records, externals)
    claims = list(registry.claims)
    results = judge(claims, [[describe_result(claim, s) for s in sources if s.claim_id == claim.id]
                             for claim in claims])
    return Summary(
        format_version=SUMMARY_FORMAT_VERSION,
        settings=Settings(VERDICT_RULE, stats.ALPHA, stats.EPS, stats.LEVEL, MULTIPLICITY, COMPARISON_MULTIPLICITY,
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
