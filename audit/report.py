"""The audit report: `reports/report.md`, `summary.json` and `plots/*.png` from runs, claims and externals.

    claims/*.yaml + runs/ + runs/external/*.yaml
        --load_inputs--> registry, run records, external result sets
        --build_summary (audit.aggregate)--> the summary (every statistic and verdict)
        --draw_figures (audit.figures)--> plots/*.png
        --build_context--> the template's context
        --render (audit.render)--> report.md (and report.html)

Nothing here computes a statistic: means, SDs, intervals, p-values, verdicts and which runs are
stale all come from the summary. This module adds the bookkeeping the summary does not hold (each
run's cost and code commit, which comparable evidence came from a tree with uncommitted changes, the
evaluated checkpoints, each profile's config diff against the claim's `paper` profile, the external
sets' provenance) and keeps every iteration in a fixed order, so that the same inputs give
byte-identical report.md and summary.json. `check_report` regenerates into a temporary directory
and names the input whose checksum changed (audit.report_inputs), else the first difference from
the committed report.
"""
from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from audit.errors import InputError
from audit.evidence import checkpoint_rule
from audit.figures import PLOTS_DIR, ordered_claims, run_status
from audit import proxy_checks as targets
from audit.records import EXTERNAL_DIR, read_records, write_bytes_atomic
from audit.report_inputs import changed_input, input_checksums
from audit.run_provenance import checkpoint_row, code_label, dirty_warnings, record_source
from audit.summary import ComparisonResult, SourceResult, Summary

PAPER_PROFILE = "paper"
REPORT_MD, REPORT_HTML, SUMMARY_JSON = "report.md", "report.html", "summary.json"


@dataclass(frozen=True)
class Inputs:
    """What a report is made from, loaded and validated."""

    registry: Any  # audit.registry.Registry
    records: tuple  # audit.records.RunRecord, sorted by (claim, profile, seed)
    problems: tuple[str, ...]  # records that could not be read
    externals: tuple  # audit.external.ExternalResultSet, sorted by id
    checksums: Mapping[str, str] = dataclasses.field(default_factory=dict)  # input file -> SHA-256 (input_checksums)
    found_any: bool = True  # whether runs_dir held any run.json or external file at all, readable or not


def load_inputs(runs_dir: Path | str, claims: Sequence[Path | str]) -> Inputs:
    """Registry from `claims` (files or directories), records under `runs_dir`, and `runs_dir/external/*.yaml`.

    A runs_dir that does not exist is bad input (InputError): a mistyped path would otherwise give
    an empty report that overwrites a real one.
    """
    from audit.external import load_externals
    from audit.records import record_paths
    from audit.registry import load_registry

    registry = load_registry(claims)
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise InputError(f"--runs-dir: {runs_dir}: no such directory")
    records, problems = read_records(runs_dir)
    externals = load_externals(runs_dir / EXTERNAL_DIR, [c.id for c in registry.claims])
    checksums = input_checksums(registry, records, runs_dir)
    found_any = bool(problems or record_paths(runs_dir)[0] or any((runs_dir / EXTERNAL_DIR).glob("*.yaml")))
    return Inputs(registry, tuple(records), tuple(problems), tuple(externals), checksums, found_any)


def run_wilson(summary: Summary) -> dict[tuple[str, str, int], list]:
    """(claim, source, seed) -> the Wilson 95% interval of each counted run's selected evaluation."""
    return {(entry.id, result.source, run.seed): run.wilson95
            for entry in summary.claims for result in entry.results for run in result.runs if run.seed is not None}


@dataclass(frozen=True)
class ExternalResult:
    """One external source's result on a claim, for section 7 (the result does not name its claim)."""

    claim: str
    result: SourceResult


@dataclass(frozen=True)
class ComparisonGroup:
    """A registry comparison that has results, with its rows (one per source)."""

    id: str
    a: str
    b: str
    statement: str
    rows: tuple[ComparisonResult, ...]


# ---- the template's context ----

def build_context(inputs: Inputs, summary: Summary, figures: Mapping) -> dict:
    """Everything report.md.j2 prints, as plain data (numbers stay numbers; the template formats them).

    `figures`: 'claims' -> relative path, 'benchmarks' -> [(benchmark, path)], 'comparisons' -> relative
    path or None, 'curves' -> {claim: path}.
    """
    registry = inputs.registry
    status, wilson = run_status(summary), run_wilson(summary)
    claims = {claim.id: claim for claim in registry.claims}
    return {
        "papers": sorted({(c.source.paper, c.source.arxiv or "") for c in registry.claims}),
        "claims": ordered_claims(summary),
        "comparisons": list(summary.comparisons),
        "comparison_groups": comparison_groups(summary, registry),
        "statements": {c.id: c.statement for c in registry.comparisons},
        "untested": [c for c in registry.comparisons if c.id not in {k.id for k in summary.comparisons}],
        "figures": figures,
        "runs": [run_row(record, status, wilson, claims.get(record.claim_id)) for record in inputs.records],
        "checkpoints": [checkpoint_row(record) for record in inputs.records if record.evaluated],
        "cost": cost_rows(registry, inputs.records),
        "deviations": deviation_rows(registry, summary),
        "externals": external_rows(inputs.externals, summary),
        "registry_notes": registry_notes(registry),
        "settings": summary.settings,
        "problems": list(summary.problems),
        "warnings": fraction_warnings(registry, inputs.externals) + dirty_warnings(registry, inputs.records, summary),
        "holm_family": holm_family(summary),
        "proxy_checks": targets.proxy_checks(registry, inputs.records),
        "proxy_rules": PROXY_RULES,
        "in_short": in_short(summary),
        "comparison_family": [f"{k.id} ({k.source})" for k in summary.comparisons if k.p_adjusted is not None],
        "counts": {"claims": len(registry.claims), "comparisons": len(registry.comparisons),
                   "records": len(inputs.records), "externals": len(inputs.externals)},
    }


# The proxy targets as the report states them (each defined once, in audit/proxy_checks.py).
PROXY_RULES = {"graded": targets.GRADED, "sd_target": targets.SD_TARGET_PP, "last_evals": targets.LAST_EVALS,
               "regime_train": targets.REGIME_TRAIN_MIN, "regime_gap": targets.REGIME_GAP_PP}


def in_short(summary: Summary) -> dict:
    """The report's opening: which comparison rows and claim rows are decided, and which are not.

    Decided means a verdict the rule reached from a test (SUPPORTED / CONTRADICTED for a comparison,
    REPRODUCED / NOT_REPRODUCED for a claim); the rest are listed by verdict with their counts."""
    decided_comparisons = [k for k in summary.comparisons if k.verdict in ("SUPPORTED", "CONTRADICTED")]
    open_comparisons = Counter(k.verdict or "no verdict" for k in summary.comparisons if k not in decided_comparisons)
    rows = [r for c in summary.claims for r in c.results]
    decided_claims = [(c.id, r) for c in summary.claims for r in c.results
                      if r.verdict in ("REPRODUCED", "NOT_REPRODUCED")]
    return {"decided_comparisons": decided_comparisons, "open_comparisons": sorted(open_comparisons.items()),
            "n_comparisons": len(summary.comparisons), "decided_claims": decided_claims,
            "open_claims": sorted(Counter(r.verdict or "no verdict" for r in rows
                                          if r.verdict not in ("REPRODUCED", "NOT_REPRODUCED")).items()),
            "n_claim_rows": len(rows)}


def fraction_warnings(registry, externals: Sequence) -> list[str]:
    """Numbers that look like fractions where percent is expected: a claim's claimed value in (0, 1],
    or an external file whose every value and mean is at most 1 (and not all 0). Such a file would
    otherwise be judged, confidently, as a result a hundred times too low."""
    warnings = [f"{c.file}: {c.id}: claimed {c.claimed:g} is at most 1: claimed values are percent "
                f"(85.3, not 0.853); is it a fraction?" for c in registry.claims if c.claimed is not None
                and 0 < c.claimed <= 1]
    for result_set in externals:
        numbers = [v for r in result_set.results for v in (*(r.values or ()), *(() if r.mean is None else (r.mean,)))]
        if numbers and 0 < max(numbers) <= 1:
            warnings.append(f"{result_set.file}: every value is at most 1 ({len(numbers)} values): results are "
                            "percent (85.3, not 0.853); were fractions given?")
    return warnings


def holm_family(summary: Summary) -> list[str]:
    """The members of the claims' Holm family, as 'claim / source' (and 'vs <value>' for a test against
    another published value), in report order: adding a result to the report changes all their adjusted p."""
    members = []
    for entry in summary.claims:
        for result in entry.results:
            if result.p_adjusted is not None:
                members.append(f"{entry.id} / {result.source}")
            members += [f"{entry.id} / {result.source} vs {other.claimed:g}" for other in result.other_values
                        if other.p_adjusted is not None]
    return members


def comparison_groups(summary: Summary, registry) -> list[ComparisonGroup]:
    """Each registry comparison that has results, with its rows (one per source), in registry order."""
    groups = [ComparisonGroup(c.id, c.a, c.b, c.statement, tuple(k for k in summary.comparisons if k.id == c.id))
              for c in registry.comparisons]
    return [group for group in groups if group.rows]


def run_row(record, status: Mapping, wilson: Mapping, claim=None) -> dict:
    """One run for the per-run tables: status (completed, failed or stale), evaluations and cost.

    `selected` is the claim's current checkpoint rule (what the summary applies), else the record's.
    """
    env = record.environment or {}
    key = (record.claim_id, record_source(record), record.seed)
    return {
        "claim": record.claim_id, "profile": record_source(record), "seed": record.seed, "code": code_label(record),
        "status": status.get(key, record.status), "final": record.final, "best": record.best,
        "selected": checkpoint_rule(claim) if claim is not None else record.selected,
        "wilson95": wilson.get(key), "steps": record.steps,
        "device": env.get("device"), "world_size": env.get("world_size"),
        "wall_time_h": None if record.wall_time_s is None else record.wall_time_s / 3600,
        "device_hours": record.device_hours, "error": record.error,
    }


def cost_rows(registry, records: Sequence) -> list[dict]:
    """Per claim and profile: the stated hardware and time, and the runs' devices, wall time and device-hours.

    Sums run over every record (completed, failed or stale): all of them cost the time. Evaluated
    checkpoints are a row of their own (they cost an evaluation, not a training run).
    """
    groups: dict[tuple[str, str], list] = {}
    for record in records:
        groups.setdefault((record.claim_id, record_source(record)), []).append(record)
    rows = []
    for claim in sorted(registry.claims, key=lambda c: c.id):
        for name in sorted(set(claim.profiles) | {p for c, p in groups if c == claim.id}):
            profile = claim.profiles.get(name)
            members = groups.get((claim.id, name), [])
            envs = [r.environment or {} for r in members]
            stated = [profile.hardware, profile.time, profile.estimate] if profile else []
            rows.append({
                "claim": claim.id, "profile": name, "stated": "; ".join(x for x in stated if x),
                "runs": len(members),
                "devices": sorted({f"{e.get('world_size') or 1}x {e.get('device') or 'unknown'}" for e in envs}),
                "wall_time_h": sum(r.wall_time_s or 0.0 for r in members) / 3600 if members else None,
                "device_hours": sum(r.device_hours or 0.0 for r in members) if members else None,
            })
    return rows


def flatten(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 1e-4}} -> {'train.lr': 1e-4}, keys sorted."""
    out = {}
    for key in sorted(config):
        value = config[key]
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_diff(paper: Mapping, other: Mapping) -> list[tuple[str, Any, Any]]:
    """(key, paper value, other value) for each key whose values differ, sorted; the seed is not a deviation."""
    a, b = flatten(paper), flatten(other)
    keys = sorted((set(a) | set(b)) - {"seed"})
    return [(key, a.get(key), b.get(key)) for key in keys if a.get(key) != b.get(key)]


def deviation_rows(registry, summary: Summary) -> list[dict]:
    """Per claim: each profile's computed diff against `paper` and its declared deviations, then each
    external source's stated deviations (from the summary)."""
    external = {}
    for entry in summary.claims:
        for result in entry.results:
            if result.kind == "external":
                external.setdefault(entry.id, []).append(result)
    rows = []
    for claim in sorted(registry.claims, key=lambda c: c.id):
        paper = claim.profiles.get(PAPER_PROFILE)
        profiles = []
        for name in sorted(claim.profiles, key=lambda n: (n != PAPER_PROFILE, n)):
            profile = claim.profiles[name]
            diff = None if paper is None else config_diff(paper.config.to_dict(), profile.config.to_dict())
            profiles.append({"name": name, "comparable": profile.comparable, "computed": diff,
                             "declared": list(profile.deviations)})
        externals = [{"name": r.source, "comparable": r.comparable, "declared": list(r.deviations or ())}
                     for r in external.get(claim.id, [])]
        rows.append({"claim": claim.id, "has_paper": paper is not None, "profiles": profiles, "externals": externals})
    return rows


def external_rows(externals: Sequence, summary: Summary) -> list[dict]:
    """Each external result set: its provenance (summary.externals) and its results with their readings."""
    results = {(entry.id, result.source): ExternalResult(entry.id, result)
               for entry in summary.claims for result in entry.results if result.kind == "external"}
    provenance = {p.id: p for p in summary.externals}
    rows = []
    for result_set in externals:
        keys = [(r.claim, result_set.source_name(r)) for r in result_set.results]
        rows.append({"set": provenance[result_set.id],
                     "results": [results[key] for key in keys if key in results],
                     "notes": [(result_set.source_name(r), r.claim, r.note) for r in result_set.results if r.note]})
    return rows


def registry_notes(registry) -> list[dict]:
    """Claims with other published values (sources disagree) or notes for the reader."""
    return [{"claim": c.id, "claimed": c.claimed, "table": c.source.table,
             "other_values": [(o.value, o.where) for o in c.other_values], "notes": c.notes}
            for c in sorted(registry.claims, key=lambda c: c.id) if c.other_values or c.notes]


# ---- assembling and writing ----

def build_report(inputs: Inputs, *, html: bool = False) -> dict[str, bytes]:
    """Every file of the report, keyed by path relative to the report directory."""
    from audit.aggregate import build_summary
    from audit.figures import draw_figures
    from audit.render import markdown_to_html, render_markdown

    summary = dataclasses.replace(build_summary(inputs.registry, inputs.records, inputs.externals, inputs.problems),
                                  inputs=dict(inputs.checksums))
    trained = [record for record in inputs.records if not record.evaluated]  # an evaluation has no curve
    figures, index = draw_figures(inputs.registry, trained, summary)
    markdown = render_markdown(build_context(inputs, summary, index))
    files = {REPORT_MD: markdown.encode("utf-8"), SUMMARY_JSON: summary.to_json().encode("utf-8"), **figures}
    if html:
        files[REPORT_HTML] = markdown_to_html(markdown, figures, title="trm-audit report").encode("utf-8")
    return files


def write_report(files: Mapping[str, bytes], out_dir: Path | str) -> None:
    """Write the files under out_dir, and remove plots of an earlier report that this one no longer has."""
    out = Path(out_dir)
    (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    for old in sorted((out / PLOTS_DIR).glob("*.png")):
        if f"{PLOTS_DIR}/{old.name}" not in files:
            old.unlink()
    for name in sorted(files):
        write_bytes_atomic(out / name, files[name])


def generate_report(runs_dir: Path | str, claims: Sequence[Path | str], out_dir: Path | str, *,
                    html: bool = False, force: bool = False) -> dict[str, bytes]:
    """Load, build and write the report; returns its files (relative path -> bytes).

    A runs_dir with no records and no external results at all does not overwrite an existing
    report.md unless `force`: that is far more often a wrong path than an audit emptied on purpose
    (InputError naming both directories).
    """
    inputs = load_inputs(runs_dir, claims)
    if not inputs.found_any and not force and (Path(out_dir) / REPORT_MD).is_file():
        raise InputError(f"--runs-dir: {runs_dir} holds no run records and no external results; not overwriting "
                         f"{Path(out_dir) / REPORT_MD} with an empty report (check the path, or pass --force)")
    files = build_report(inputs, html=html)
    write_report(files, out_dir)
    return files


def check_report(runs_dir: Path | str, claims: Sequence[Path | str], out_dir: Path | str) -> Optional[str]:
    """Regenerate into a temporary directory and compare with `out_dir`: None when identical, else the
    first difference in one line.

    Compared, in order: report.md, summary.json, the set of plots/*.png, each PNG's bytes (the figures
    are byte-deterministic on the same matplotlib and FreeType versions), and report.html when the
    committed report has one.
    """
    out = Path(out_dir)
    html = (out / REPORT_HTML).is_file()
    with tempfile.TemporaryDirectory(prefix="trm-audit-report-") as tmp:
        generate_report(runs_dir, claims, tmp, html=html)
        return changed_input(out / SUMMARY_JSON, Path(tmp) / SUMMARY_JSON) or first_difference(out, Path(tmp))


def first_difference(committed: Path, fresh: Path) -> Optional[str]:
    """The first way `committed` differs from the freshly generated `fresh`, or None."""
    for name in (REPORT_MD, SUMMARY_JSON):
        problem = _text_difference(committed / name, fresh / name)
        if problem:
            return problem
    old = sorted(p.name for p in (committed / PLOTS_DIR).glob("*.png")) if (committed / PLOTS_DIR).is_dir() else []
    new = sorted(p.name for p in (fresh / PLOTS_DIR).glob("*.png"))
    if old != new:
        missing, extra = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        if missing:
            return f"{committed / PLOTS_DIR / missing[0]}: missing (the fresh report has this plot)"
        return f"{committed / PLOTS_DIR / extra[0]}: not produced by a fresh report (stale plot)"
    for name in new:
        if (committed / PLOTS_DIR / name).read_bytes() != (fresh / PLOTS_DIR / name).read_bytes():
            return f"{committed / PLOTS_DIR / name}: image differs from a fresh regeneration"
    if (fresh / REPORT_HTML).is_file():
        return _text_difference(committed / REPORT_HTML, fresh / REPORT_HTML)
    return None


def _text_difference(committed: Path, fresh: Path) -> Optional[str]:
    if not committed.is_file():
        return f"{committed}: missing"
    old, new = committed.read_bytes(), fresh.read_bytes()
    if old == new:
        return None
    old_lines, new_lines = old.decode("utf-8", "replace").split("\n"), new.decode("utf-8", "replace").split("\n")
    for number, (a, b) in enumerate(zip(old_lines, new_lines), start=1):
        if a != b:
            return f"{committed}: line {number} differs: committed {_clip(a)!r}, fresh {_clip(b)!r}"
    return f"{committed}: length differs ({len(old_lines)} lines committed, {len(new_lines)} fresh)"


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
