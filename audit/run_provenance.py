"""Where each run record came from, for the report: its source, its code, the checkpoint it scored.

Records store the code's git commit and whether the tree had uncommitted changes (`code`, written by
audit.runner.code_version); records made before that, or without git, say "commit not recorded"
rather than fail. A comparable result counted from a dirty tree is warned about: the code behind it
is no commit. Evaluated checkpoints (`trm-audit evaluate`) are listed with their digest and layout.
"""
from __future__ import annotations

from typing import Sequence

from audit.sources import source_name
from audit.summary import Summary


def record_source(record) -> str:
    """The source a record is evidence for, as the summary names it (audit.sources.source_name)."""
    return source_name(record.profile, "checkpoint" if record.evaluated else "profile")


def code_label(record) -> str:
    """A record's code: its commit (12 digits) and whether the tree was dirty, or 'commit not recorded'
    (a record made before the runner stored it, or without git)."""
    if record.commit is None:
        return "commit not recorded"
    tree = {True: "dirty tree", False: "clean"}.get(record.dirty, "tree state not recorded")
    return f"{record.commit[:12]} ({tree})"


def checkpoint_row(record) -> dict:
    """One evaluated checkpoint (`trm-audit evaluate`) for the report's table of them."""
    ckpt = record.checkpoint
    return {"claim": record.claim_id, "profile": record.profile, "seed": record.seed, "path": ckpt["path"],
            "sha256": ckpt["sha256"], "layout": ckpt["layout"], "weights": ckpt["weights"], "step": ckpt["step"]}


def dirty_warnings(registry, records: Sequence, summary: Summary) -> list[str]:
    """Comparable sources with counted runs made from a working tree with uncommitted changes: the code
    behind such a result is no commit, so nobody can check out what produced it. Proxies are not
    warned about (they are never judged against a claim); the per-run table shows every run's commit."""
    claims = {claim.id: claim for claim in registry.claims}
    by_source: dict[tuple[str, str], list] = {}
    for record in records:
        by_source.setdefault((record.claim_id, record_source(record)), []).append(record)
    warnings = []
    for entry in summary.claims:
        claim = claims[entry.id]
        for result in entry.results:
            if not result.comparable or result.kind == "external":
                continue
            owner = claim.runs_of if result.kind == "profile" and claim.runs_of else claim.id
            counted = [run.seed for run in result.runs]
            dirty = [r for r in by_source.get((owner, result.source), []) if r.seed in counted and r.dirty]
            if dirty:
                commits = ", ".join(sorted({r.commit[:12] for r in dirty if r.commit})) or "commit not recorded"
                warnings.append(f"{entry.id} / {result.source}: {len(dirty)} of {len(counted)} counted run(s) "
                                f"(seed {', '.join(str(r.seed) for r in dirty)}) came from a working tree with "
                                f"uncommitted changes (on {commits}): the code behind this comparable result is no "
                                "commit; rerun from a clean checkout to make it checkable")
    return warnings
