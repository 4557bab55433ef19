"""The three modes of `trm-audit import`: a file (imported, or with dry_run only validated), `--list`
and `--remove ID`. Each prints its human lines (to stderr when `as_json`, so stdout holds the JSON
document alone) and returns the document the command prints with --json.
"""
from __future__ import annotations

import dataclasses
import functools

import click


def import_file(results_file, external_dir, registry, replace_existing, dry_run, as_json) -> dict:
    """Import one file (or, dry_run, say what importing it would do); returns the --json document."""
    from audit.external import import_external, plan_import, set_summary
    from audit.report import fraction_warnings

    claim_ids = [claim.id for claim in registry.claims]
    plan = plan_import(results_file, external_dir, claim_ids=claim_ids, replace_existing=replace_existing)
    if not dry_run:
        import_external(results_file, external_dir, claim_ids=claim_ids, replace_existing=replace_existing)
    # Once imported, the set is the target file (warnings name it); a dry run names the file given.
    result_set = plan.result_set if dry_run else dataclasses.replace(plan.result_set, file=str(plan.target))
    say = functools.partial(click.echo, err=as_json)
    done = {"new": "imported {}", "replace": "replaced {}",
            "unchanged": "{}: already imported, identical (nothing written)"}
    would = {"new": "would import {}", "replace": "would replace {}",
             "unchanged": "{}: already imported, identical (nothing to write)"}
    say((would if dry_run else done)[plan.action].format(plan.target)
        + f" ({result_set.source.title}; comparable: {str(result_set.comparable).lower()})")
    for result in result_set.results:
        kind = "per-seed values" if result.values is not None else f"mean ± ({result.pm_kind})"
        say(f"  {result.claim}: {result_set.source_name(result)}, {kind}")
    if result_set.comparable and plan.action != "unchanged":
        say("  its tested results join the report's Holm family: every member's adjusted p changes "
            "(the report's methods section lists the members)")
    warnings = fraction_warnings(registry, [result_set])
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    return {"action": plan.action, "dry_run": dry_run, "file": str(plan.target),
            "written": not dry_run and plan.action != "unchanged", "set": set_summary(result_set),
            "warnings": list(warnings)}


def list_imports(external_dir, registry, as_json) -> list:
    """Print (or return, for --json) the imported result sets, a broken one with its problem."""
    from audit.external import list_imported, set_summary

    listed = list_imported(external_dir, [claim.id for claim in registry.claims])
    if not as_json:
        if not listed:
            click.echo(f"no imported result sets in {external_dir}")
        for item in listed:
            if item.result_set is None:
                click.echo(f"{item.id}  INVALID: {item.problem}")
                continue
            claims = sorted({r.claim for r in item.result_set.results})
            click.echo(f"{item.id}  {item.result_set.source.title} (comparable: "
                       f"{str(item.result_set.comparable).lower()}; {len(item.result_set.results)} results: "
                       f"{', '.join(claims)})")
    return [{"id": item.id, "file": str(item.file), "problem": item.problem,
             "set": set_summary(item.result_set) if item.result_set is not None else None} for item in listed]


def remove_import(external_dir, set_id, dry_run, as_json) -> dict:
    """Delete one imported result set (or, dry_run, say which file would go); returns the --json document."""
    from audit.external import remove_imported, set_summary

    removed = remove_imported(external_dir, set_id, dry_run=dry_run)
    what = removed.result_set.source.title if removed.result_set is not None else f"invalid: {removed.problem}"
    click.echo(f"{'would remove' if dry_run else 'removed'} {removed.file} ({what}); the report changes "
               "at the next trm-audit report", err=as_json)
    return {"id": set_id, "file": str(removed.file), "removed": not dry_run, "dry_run": dry_run,
            "set": set_summary(removed.result_set) if removed.result_set is not None else None}
