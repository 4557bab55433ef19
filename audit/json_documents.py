"""The JSON documents `run --json` and `report --json` print: plain data, stable keys (sorted on output).

Each builder takes what the command already has (a planned run, a record, the written summary.json)
and picks the fields a script needs; the statistics themselves stay in the summary.
"""
from __future__ import annotations


def planned_json(planned) -> dict:
    """One planned run for `run --json`: claim, profile, seed, the plan's state and its note."""
    spec = planned.spec
    return {"claim": spec.claim.id, "profile": spec.profile, "seed": spec.seed, "state": planned.state,
            "note": planned.note, "directory": str(spec.directory)}


def outcome_json(spec, record, chosen) -> dict:
    """One run's outcome for `run --json`: status 'completed', 'failed' or 'skipped' (nothing was run),
    the claim's metric and the value its checkpoint rule selects (percent), the step, wall time (s), error."""
    base = {"claim": spec.claim.id, "profile": spec.profile, "seed": spec.seed, "metric": spec.claim.metric}
    if record is None:
        return {**base, "status": "skipped", "value": None, "step": None, "wall_time_s": None, "error": None}
    return {**base, "status": record.status, "value": chosen.value if chosen is not None else None,
            "step": chosen.step if chosen is not None else None, "wall_time_s": record.wall_time_s,
            "error": record.error}


def verdicts_json(summary: dict) -> dict:
    """The verdicts of a written summary.json, for `report --json`: each (claim, source) row and each
    comparison with its verdict, reason and the numbers behind it (the summary holds everything else)."""
    rows = [{"claim": claim["id"], "source": row["source"], "kind": row["kind"], "comparable": row["comparable"],
             "n": row["n"], "mean": row["mean"], "claimed": claim["claimed"], "p_adjusted": row["p_adjusted"],
             "verdict": row["verdict"], "reason": row["reason"]}
            for claim in summary["claims"] for row in claim["results"]]
    comparisons = [{"id": c["id"], "a": c["a"], "b": c["b"], "source": c["source"], "diff": c["diff"],
                    "p_adjusted": c["p_adjusted"], "verdict": c["verdict"], "reason": c["reason"]}
                   for c in summary["comparisons"]]
    return {"rows": rows, "comparisons": comparisons}
