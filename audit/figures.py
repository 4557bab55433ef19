"""What the report draws: figure data from the summary and from each run's metrics.csv, and the figures.

`draw_figures` returns every PNG of a report keyed by its path under the report directory:
plots/claims.png (all claims), plots/claims-<benchmark>.png (one per benchmark),
plots/comparisons.png (every comparison with a source on both arms) and plots/curves-<claim>.png
(one per claim with runs). The numbers drawn are the summary's; the
curves are read from metrics.csv, at most MAX_CURVE_SEEDS runs per (claim, profile) and
MAX_POINTS points per line, which keeps a report over a thousand runs within seconds.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from audit.comparison_plot import ComparisonPanel, plot_comparisons
from audit.evidence import selected_evaluation
from audit.plots import (ClaimEstimates, RunCurve, SourceCurves, SourceEstimate, plot_claims, plot_curves,
                         source_colors)
from audit.render import fmt_p, fmt_signed
from audit.summary import ClaimSummary, ComparisonResult, SourceResult, Summary

log = logging.getLogger(__name__)

TRAIN_ACCURACY = ("exact_accuracy", "accuracy")  # train-split series drawn beside the test metric, first found
TRAIN_LOSS = ("lm_loss", "loss")  # training-loss series, first found
MAX_CURVE_SEEDS = 5  # runs drawn per (claim, profile), lowest seeds first: bounds the report's time
MAX_POINTS = 250  # points per drawn line; longer series are averaged over consecutive steps
PLOTS_DIR = "plots"


def claim_label(claim) -> str:
    """'sudoku-extreme · TRM-MLP'."""
    return f"{claim.benchmark} · {claim.model}"


# Texts whose stem can be read back ('/' <-> '--'): lower-case words without '--' of their own.
_PLAIN = re.compile(r"[a-z0-9_.+-]+(/[a-z0-9_.+-]+)*")


def file_stem(text: str) -> str:
    """A claim id or benchmark as a file name, one name per text (two plots never share a file).

    A plain text keeps its readable stem: 'arc-agi-1/trm-att' -> 'arc-agi-1--trm-att'. Any other
    ('adv--tiny-mlp', 'Toy Sudoku', non-ASCII) would share a stem with another text, so it gets
    the readable part plus '~' and a digest of the text: 'toy-sudoku~3f1c...'. Plain stems have no
    '~', so the two kinds never meet.
    """
    stem = re.sub(r"[^a-z0-9_.+-]+", "-", text.lower().replace("/", "--"))
    if _PLAIN.fullmatch(text) and "--" not in text:
        return stem
    return f"{stem}~{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def run_status(summary: Summary) -> dict[tuple[str, str, int], str]:
    """(claim, source, seed) -> 'failed' | 'stale' for every run the summary kept out of its statistics."""
    return {(entry.id, result.source, excluded.seed): excluded.status
            for entry in summary.claims for result in entry.results for excluded in result.excluded}


def ordered_claims(summary: Summary) -> list[ClaimSummary]:
    """The summary's claims by benchmark, then id: the order of every table and figure."""
    return sorted(summary.claims, key=lambda entry: (entry.benchmark, entry.id))


def source_estimate(result: SourceResult) -> SourceEstimate:
    """A source's mean, SD, display CI (clipped to [0, 100]) and per-seed values, as drawn."""
    return SourceEstimate(
        source=result.source, comparable=bool(result.comparable), mean=result.mean, sd=result.sd,
        ci95=tuple(result.ci95_display) if result.ci95_display is not None else None,
        values=tuple(result.values), published_pm=_unstated_pm(result))


def claim_estimates(summary: Summary, registry) -> list[ClaimEstimates]:
    """Per claim, each source's estimate for `plot_claims`."""
    return [ClaimEstimates(entry.id, claim_label(registry.claim(entry.id)), entry.claimed, entry.tolerance_pp,
                           tuple(source_estimate(result) for result in entry.results),
                           tuple(other.value for other in registry.claim(entry.id).other_values))
            for entry in ordered_claims(summary)]


def comparison_panels(summary: Summary) -> list[ComparisonPanel]:
    """One panel per comparison row of the summary (its order), each arm from that claim's result on the source."""
    results = {(entry.id, r.kind, r.source): r for entry in summary.claims for r in entry.results}
    return [ComparisonPanel(_comparison_title(k), k.verdict, _comparison_detail(k),
                            tuple((f"{side}: {claim}", source_estimate(results[(claim, k.kind, k.source)]))
                                  for side, claim in (("a", k.a), ("b", k.b))))
            for k in summary.comparisons]


def _comparison_title(k: ComparisonResult) -> str:
    return f"{k.id} on {k.source}" + (" (proxies: a claim at proxy scale)" if k.proxy else "")


def _comparison_detail(k: ComparisonResult) -> str:
    poi = "—" if k.poi is None else f"{k.poi:.2f}"
    seeds = "" if k.seeds_needed is None else f", {k.seeds_needed} seeds/arm to decide"
    return f"a − b {fmt_signed(k.diff)} pp, Holm p {fmt_p(k.p_adjusted)}, PoI {poi}{seeds}"


def _unstated_pm(result: SourceResult) -> Optional[float]:
    """A published ± whose meaning the source does not state (drawn dashed), else None."""
    published = result.published
    if published is not None and published.pm is not None and published.pm_kind == "unknown":
        return float(published.pm)
    return None


def read_curves(run_dir: Path, metric: str) -> tuple[dict, dict, dict]:
    """(train accuracy, test metric, train loss) of one run's metrics.csv, each {'steps', 'values'}.

    metrics.csv has columns step,split,metric,value, one row per metric per step. Accuracies there
    are fractions; they come back in percent like every number of the report. Long series are
    averaged over runs of consecutive steps so that a line has at most MAX_POINTS points. A missing file
    gives empty series (a run can fail before writing one).
    """
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return {}, {}, {}
    wanted = {("test", metric)} | {("train", m) for m in TRAIN_ACCURACY + TRAIN_LOSS}
    rows: dict[tuple[str, str], list[tuple[int, float]]] = {}
    malformed: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        next(handle, None)  # header
        for line_number, line in enumerate(handle, start=2):  # a plain split: csv.DictReader takes 5x longer
            try:
                step, split, name, value = line.rstrip("\n").split(",")
                if (split, name) in wanted:
                    number = float(value)
                    if math.isfinite(number):
                        rows.setdefault((split, name), []).append((int(step), number))
            except ValueError:  # a row torn by a killed writer, or damaged bytes: drawn without it
                malformed.append(line_number)
    if malformed:
        log.warning("%s: %d malformed row(s) left out of the curves (first at line %d)", path, len(malformed),
                    malformed[0])
    train_name = next((m for m in TRAIN_ACCURACY if ("train", m) in rows), None)
    loss_name = next((m for m in TRAIN_LOSS if ("train", m) in rows), None)
    return (_series(rows.get(("train", train_name), []), 100.0), _series(rows.get(("test", metric), []), 100.0),
            _series(rows.get(("train", loss_name), []), 1.0))


def _series(points: list[tuple[int, float]], scale: float) -> dict:
    """Sorted by step; longer than MAX_POINTS: the mean of each run of k consecutive points, at its last step."""
    points = sorted(points)
    size = max(1, math.ceil(len(points) / MAX_POINTS))
    if size > 1:
        points = [(chunk[-1][0], math.fsum(v for _, v in chunk) / len(chunk))
                  for chunk in (points[i:i + size] for i in range(0, len(points), size))]
    return {"steps": tuple(p[0] for p in points), "values": tuple(scale * p[1] for p in points)}


def _pair(series: Mapping) -> tuple[tuple[int, ...], tuple[float, ...]]:
    return series.get("steps", ()), series.get("values", ())


def claim_curves(registry, records: Sequence, status: Mapping) -> dict[str, list[SourceCurves]]:
    """Claim id -> one SourceCurves per profile, from the metrics.csv of its current runs (failed ones
    included, stale ones left out), at most MAX_CURVE_SEEDS runs each, lowest seeds first."""
    known = {claim.id: claim for claim in registry.claims}
    grouped: dict[tuple[str, str], list[RunCurve]] = {}
    totals: dict[tuple[str, str], int] = {}
    for record in sorted(records, key=lambda r: (r.claim_id, r.profile, r.seed)):
        claim = known.get(record.claim_id)
        key = (record.claim_id, record.profile)
        if claim is None or record.profile not in claim.profiles or status.get((*key, record.seed)) == "stale":
            continue
        totals[key] = totals.get(key, 0) + 1
        if len(grouped.get(key, ())) >= MAX_CURVE_SEEDS:
            continue
        train, test, loss = read_curves(Path(record.path).parent, claim.metric)
        final = record.final.step if record.final else None
        best = record.best.step if record.best else None
        chosen = selected_evaluation(record, claim)
        selected = chosen.step if chosen else None
        grouped.setdefault(key, []).append(
            RunCurve(record.seed, _pair(train), _pair(test), _pair(loss), selected, final, best,
                     failed=record.status == "failed"))
    out: dict[str, list[SourceCurves]] = {}
    for (claim_id, profile), runs in sorted(grouped.items()):
        comparable = known[claim_id].profiles[profile].comparable
        total = totals[(claim_id, profile)]
        out.setdefault(claim_id, []).append(SourceCurves(profile, comparable, tuple(runs), total))
    return out


def draw_figures(registry, records: Sequence, summary: Summary) -> tuple[dict[str, bytes], dict]:
    """Every figure as PNG bytes keyed by path under the report directory, and the index the template
    needs: {'claims': path, 'benchmarks': [(benchmark, path)], 'comparisons': path or None,
    'curves': {claim id: path}}."""
    estimates = claim_estimates(summary, registry)
    colors = source_colors([s.source for c in estimates for s in c.sources] +
                           [name for c in registry.claims for name in c.profiles])
    files: dict[str, bytes] = {}
    index: dict[str, Any] = {"claims": None, "benchmarks": [], "comparisons": None, "curves": {}}
    if estimates:
        index["claims"] = f"{PLOTS_DIR}/claims.png"
        files[index["claims"]] = plot_claims(estimates, "Claimed vs achieved: all claims", colors)
    benchmarks = sorted({c.benchmark for c in registry.claims})
    for benchmark in benchmarks:
        subset = [e for e in estimates if registry.claim(e.claim_id).benchmark == benchmark]
        path = f"{PLOTS_DIR}/claims-{file_stem(benchmark)}.png"
        files[path] = plot_claims(subset, f"Claimed vs achieved: {benchmark}", colors)
        index["benchmarks"].append((benchmark, path))
    if summary.comparisons:
        index["comparisons"] = f"{PLOTS_DIR}/comparisons.png"
        files[index["comparisons"]] = plot_comparisons(comparison_panels(summary), colors)
    curves = claim_curves(registry, records, run_status(summary))
    for claim_id, sources in sorted(curves.items()):
        claim = registry.claim(claim_id)
        path = f"{PLOTS_DIR}/curves-{file_stem(claim_id)}.png"
        title = f"{claim_id} ({claim_label(claim)}): training curves"
        files[path] = plot_curves(title, claim.metric, sources, colors)
        index["curves"][claim_id] = path
    return files, index
