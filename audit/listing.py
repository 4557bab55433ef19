"""What `trm-audit claims` shows: the registry as rows for people and as JSON for machines."""
from __future__ import annotations

from audit.registry import Claim, Registry


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
            "params_m": claim.params_m,
            "params_counted": count_paper_parameters(claim) if count_params else None,
            "statement": claim.statement,
            "source": {"paper": claim.source.paper, "arxiv": claim.source.arxiv, "table": claim.source.table},
            "protocol": {
                "weights": claim.protocol.weights,
                "checkpoint": claim.protocol.checkpoint,
                "pass_k": claim.protocol.pass_k,
                "supervision_steps": claim.protocol.supervision_steps,
                "pooled_votes": claim.protocol.pooled_votes,
            },
            "other_values": [{"value": o.value, "where": o.where} for o in claim.other_values],
            "profiles": {
                name: {"comparable": p.comparable, "description": p.description, "hardware": p.hardware,
                       "time": p.time, "config_hash": p.config.config_hash()}
                for name, p in claim.profiles.items()
            },
            "file": claim.file,
        })
    comparisons = [
        {"id": c.id, "a": c.a, "b": c.b, "alternative": c.alternative, "statement": c.statement, "file": c.file}
        for c in registry.comparisons
    ]
    return {"claims": claims, "comparisons": comparisons}


def format_claims_table(listing: dict) -> str:
    """A plain-text table of the claims, then the comparisons, one line each."""
    header = ("claim", "metric", "claimed", "params", "counted", "profiles")
    rows = []
    for c in listing["claims"]:
        claimed = "-" if c["claimed"] is None else f"{c['claimed']:.1f}"
        params = "-" if c["params_m"] is None else f"{c['params_m']:g}M"
        counted = "-" if c["params_counted"] is None else f"{c['params_counted'] / 1e6:.2f}M"
        profiles = ", ".join(name + ("" if p["comparable"] else "*") for name, p in c["profiles"].items())
        rows.append((c["id"], c["metric"], claimed, params, counted, profiles))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.append("(* = proxy profile, not comparable with the claim)")
    if listing["comparisons"]:
        lines.append("")
        lines.append("comparisons (one-tailed, a > b):")
        lines.extend(f"  {c['id']}: {c['a']} > {c['b']}" for c in listing["comparisons"])
    return "\n".join(lines)
