"""What `trm-audit claims` shows: the registry as rows for people and as JSON for machines."""
from __future__ import annotations

import json
from dataclasses import fields

import yaml

from audit.registry import Claim, Profile, Registry
from audit.setups import CLAIM, dotted_keys, value_at
from trm.schema import to_dict


def count_paper_parameters(claim: Claim) -> int | None:
    """Parameters of the claim's `paper` model, counted without allocating it (meta device).

    Imports torch; None when the claim has no paper profile.
    """
    profile = claim.profiles.get("paper")
    if profile is None:
        return None
    from trm.params import count_parameters

    return count_parameters(profile.model, seq_len=profile.data.seq_len, vocab_size=profile.data.vocab_size)


def list_claims(registry: Registry, *, count_params: bool = True) -> dict:
    """{"claims": [...], "comparisons": [...]} with `claimed` in percent (null where none is given)."""
    claims = []
    for claim in registry.claims:
        claims.append({
            "id": claim.id,
            "benchmark": claim.benchmark,
            "model": claim.model,
            "metric": claim.metric,
            "split": claim.split,
            "claimed": claim.claimed,
            "tolerance_pp": claim.tolerance_pp,
            "runs_of": claim.runs_of,
            "params_m": claim.params_m,
            "params_counted": count_paper_parameters(claim) if count_params else None,
            "statement": claim.statement,
            "source": to_dict(claim.source),
            "protocol": to_dict(claim.protocol),
            "other_values": [{"value": o.value, "where": o.where} for o in claim.other_values],
            "profiles": {
                name: {"comparable": p.comparable, "description": p.description, "hardware": p.hardware,
                       "time": p.time, "config_hash": p.config.config_hash(),
                       "bases": list(p.resolution.bases) if p.resolution else []}
                for name, p in claim.profiles.items()
            },
            "file": claim.file,
        })
    comparisons = [
        {"id": c.id, "a": c.a, "b": c.b, "alternative": c.alternative, "margin_pp": c.margin_pp,
         "statement": c.statement, "file": c.file}
        for c in registry.comparisons
    ]
    return {"claims": claims, "comparisons": comparisons}


def format_claims_table(listing: dict) -> str:
    """A plain-text table of the claims, then the comparisons, one line each."""
    header = ("claim", "metric", "claimed", "params", "counted", "source", "profiles")
    rows = []
    for c in listing["claims"]:
        claimed = "-" if c["claimed"] is None else f"{c['claimed']:.1f}"
        params = "-" if c["params_m"] is None else f"{c['params_m']:g}M"
        counted = "-" if c["params_counted"] is None else f"{c['params_counted'] / 1e6:.2f}M"
        profiles = ", ".join(name + ("" if p["comparable"] else "*") for name, p in c["profiles"].items())
        rows.append((c["id"], c["metric"], claimed, params, counted, source_label(c["source"]), profiles))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.append("(* = proxy profile, not comparable with the claim)")
    if listing["comparisons"]:
        lines.append("")
        lines.append("comparisons (one-tailed, a > b):")
        lines.extend(f"  {c['id']}: {c['a']} > {c['b']}" for c in listing["comparisons"])
    return "\n".join(lines)


def source_label(source: dict) -> str:
    """The paper's table and the copy registered from, short: 'Table 4 (copied from report Table 1)'."""
    label = source.get("table") or "no table"
    copied = source.get("copied_from")
    if copied:
        label += f" (copied from report {copied['table']})" if copied.get("table") else " (from report)"
    return label


DEFAULT = "default"  # origin of a value no setup and no claim writes: trm/config.py


def profile_body(profile: Profile) -> dict:
    """The complete profile as a claims file would write it without a base: every field, resolved."""
    return {f.name: to_dict(getattr(profile, f.name)) for f in fields(Profile) if not f.metadata.get("internal")}


def show_profile(claim: Claim, profile: Profile) -> dict:
    """A resolved profile and where each value comes from, for `trm-audit claims --show`.

    Returns {"claim", "profile", "file", "setups_file", "bases" (nearest first), "config_hash",
    "body" (profile_body), "origins" (dotted key -> setup name, 'claim' or 'default'),
    "overrides" (dotted key -> {"value", "replaces": {"setup", "value"} or null}: what the claim writes)}.
    """
    resolution = profile.resolution
    body = profile_body(profile)
    origins = resolution.origins if resolution else {}
    replaced = resolution.replaced if resolution else {}
    every_key = dotted_keys(body)
    overrides = {}
    for key in every_key:
        if origins.get(key) == CLAIM:
            before = replaced.get(key)
            overrides[key] = {"value": value_at(body, key),
                              "replaces": {"setup": before[0], "value": before[1]} if before else None}
    return {"claim": claim.id, "profile": profile.name, "file": claim.file,
            "setups_file": resolution.setups_file if resolution else "",
            "bases": list(resolution.bases) if resolution else [], "config_hash": profile.config.config_hash(),
            "body": body, "origins": {key: origins.get(key, DEFAULT) for key in every_key}, "overrides": overrides}


def format_profile_yaml(shown: dict) -> str:
    """`show_profile` as YAML to paste under a claim's `profiles:`, each value's origin as a comment."""
    bases = " <- ".join(shown["bases"])
    lines = [f"# {shown['claim']}: profile {shown['profile']!r} of {shown['file']}, resolved (config_hash {shown['config_hash']})",
             f"# base: {bases} ({shown['setups_file']})" if bases else "# base: none",
             f"# written in the claim: {', '.join(shown['overrides']) or 'nothing'}",
             "# after each value, where it comes from: a setup, 'claim' (the claim's profile) or 'default' (trm/config.py)",
             f"{shown['profile']}:"]
    rows: list[tuple[str, str]] = []
    for key, value in shown["body"].items():
        if isinstance(value, dict):
            rows.append((f"  {key}:", ""))
            rows.extend((f"    {sub}: {_scalar(v)}", _origin(shown, f"{key}.{sub}")) for sub, v in value.items())
        elif isinstance(value, list) and value:
            rows.append((f"  {key}:", _origin(shown, key)))
            rows.extend((f"    - {_scalar(item)}", "") for item in value)
        else:
            rows.append((f"  {key}: {_scalar(value)}", _origin(shown, key)))
    width = max(len(text) for text, origin in rows if origin and len(text) <= 60)
    lines.extend(f"{text.ljust(width)}  # {origin}" if origin else text for text, origin in rows)
    return "\n".join(lines)


def _origin(shown: dict, key: str) -> str:
    origin = shown["origins"][key]
    replaced = (shown["overrides"].get(key) or {}).get("replaces")
    if not replaced:
        return origin
    before = _scalar(replaced["value"])
    before = before if len(before) <= 40 else before[:37] + "..."
    return f"{origin} (instead of {replaced['setup']}'s {before})"


def _scalar(value) -> str:
    """One line of YAML that reads back as the same value (PyYAML writes 1e-5 as 1.0e-05: a float to it)."""
    if isinstance(value, str) and "\n" in value:
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a one-line YAML double-quoted scalar
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True).splitlines()[0]
