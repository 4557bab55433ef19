"""Refresh the generated parts of the README's "Current results" from the committed report.

    python scripts/readme_results.py [--check]

Each generated part sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` in README.md:
  in-short   the report's opening "In short" line
  verdicts   the proxy comparisons (calibrated proxies: a band registered), from reports/summary.json
  targets    the report's "Proxy arms against their targets" table
  claims     the report's "Claims vs achieved" table
The prose around them (the one-line reading) is written by hand. --check exits 1 when README.md is
not what this script would write (CI does not run it: the reading may lag a regeneration by a commit).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.registry import load_registry  # noqa: E402  (after the path: runnable from a checkout)


def table_after(markdown: str, heading: str) -> str:
    """The first Markdown table after the line `heading` (a table: consecutive lines starting with '|')."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return "\n".join(rows)


def in_short(report: str) -> str:
    """The report's opening summary line, quoted."""
    return "> " + next(line for line in report.splitlines() if line.startswith("**In short.**"))


def calibrated_sources(registry) -> set[tuple[str, str]]:
    """(claim id, profile) of every proxy profile that registered a band: the proxies meant to decide."""
    return {(claim.id, name) for claim in registry.claims for name, profile in claim.profiles.items()
            if not profile.comparable and profile.band is not None}


def verdict_table(summary: dict, registry) -> str:
    calibrated = calibrated_sources(registry)
    sd = {(c["id"], r["source"]): r.get("sd") for c in summary["claims"] for r in c["results"]}

    def arm(claim_id, source, mean, n):
        if mean is None:
            return "no counted run"
        spread = sd.get((claim_id, source))
        return f"{mean:.1f} ± {spread:.1f} ({n})" if spread is not None else f"{mean:.1f} ({n})"

    rows = ["| comparison (a > b) | proxy | a: mean ± SD (seeds) | b: mean ± SD (seeds) | verdict | Holm-adjusted p "
            "| PoI | seeds per arm to decide (before Holm; at its Holm threshold) |", "|---|---|---|---|---|---|---|---|"]
    for c in summary["comparisons"]:
        if c["kind"] != "profile" or (c["a"], c["source"]) not in calibrated or (c["b"], c["source"]) not in calibrated:
            continue
        how = " (paired)" if c["method"] == "paired" else (
            f" (equivalent ±{c['margin_pp']:g} pp)" if c["alternative"] == "equivalent" else "")
        p = "—" if c["p_adjusted"] is None else f"{c['p_adjusted']:.3f}"
        poi = "—" if c["poi"] is None else f"{c['poi']:.2f}"
        seeds = "—" if c["seeds_needed"] is None else str(c["seeds_needed"])
        if c["seeds_at_holm"] is not None:
            seeds += f"; {c['seeds_at_holm']}"
        rows.append(f"| {c['id']}{how} | {c['source']} | {arm(c['a'], c['source'], c['mean_a'], c['n_a'])} | "
                    f"{arm(c['b'], c['source'], c['mean_b'], c['n_b'])} | **{c['verdict']}** | {p} | {poi} | {seeds} |")
    return "\n".join(rows)


def generated_parts(root: Path) -> dict[str, str]:
    report = (root / "reports" / "report.md").read_text()
    summary = json.loads((root / "reports" / "summary.json").read_text())
    registry = load_registry([root / "claims"])
    return {"in-short": in_short(report), "verdicts": verdict_table(summary, registry),
            "targets": table_after(report, "### Proxy arms against their targets"),
            "claims": table_after(report, "## 1. Claims vs achieved")}


def spliced(readme: str, parts: dict[str, str]) -> str:
    for name, body in parts.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(\n<!-- end: {name} -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md: no '<!-- generated: {name} -->' ... '<!-- end: {name} -->' block")
        readme = pattern.sub(lambda m: m.group(1) + body + m.group(2), readme)
    return readme


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md is out of date")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    before = path.read_text()
    after = spliced(before, generated_parts(ROOT))
    if args.check:
        print("README.md: up to date" if after == before else "README.md: out of date (run scripts/readme_results.py)")
        return 0 if after == before else 1
    path.write_text(after)
    print("README.md: generated parts rewritten" if after != before else "README.md: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
