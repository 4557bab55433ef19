"""Inputs for the summary tests (test_aggregate.py, test_comparisons.py): run records as the runner
writes them, external result sets, and the summary as summary.json holds it."""
import tempfile
from pathlib import Path

from audit.aggregate import build_summary
from audit.external import ExternalResult, ExternalResultSet, ExternalSource, load_external, load_externals
from audit.records import parse_record
from audit.registry import load_registry

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]


def two_claims_registry(calibrated: bool = False):
    """tests/data/two_claims.yaml: toy/alpha (claimed 90) and toy/beta (claimed 80), alpha-vs-beta.

    `calibrated`: every proxy profile registers a band ([0, 100]), so its comparisons can decide and
    join the Holm family (audit.proxy_checks.in_decision_family); as written they are uncalibrated."""
    if not calibrated:
        return load_registry([DATA / "two_claims.yaml"])
    return load_registry([calibrated_copy(DATA / "two_claims.yaml", Path(tempfile.mkdtemp()))])


def calibrated_copy(claims_file: Path, directory: Path, text: str | None = None) -> Path:
    """A copy of a claims file (or of `text`) in `directory` whose proxy profiles register the band [0, 100]."""
    text = claims_file.read_text() if text is None else text
    path = directory / claims_file.name
    path.write_text(text.replace("comparable: false\n", "comparable: false\n        band: [0, 100]\n"))
    return path


def record(registry, claim_id, profile, seed, value=None, total=100, status="completed", config_hash=None):
    """A run record as the runner writes it (run.json parsed by audit.records)."""
    claim = registry.claim(claim_id)
    config = claim.profiles[profile].config_for(seed)
    final = None
    if value is not None:
        final = {"step": 10, "value": value, "correct": value / 100 * total, "total": total, "metrics": {}}
    resolved = config.to_dict()
    if config_hash is not None:  # a stale record: made with another config than the profile's
        resolved["train"]["lr"] *= 2
    data = {"format_version": 1, "claim_id": claim_id, "profile": profile, "seed": seed, "status": status,
            "error": "diverged" if status == "failed" else None, "config": resolved,
            "config_hash": config_hash or config.config_hash(), "metric": claim.metric, "final": final,
            "best": final, "selected": "final"}
    return parse_record(data, Path("runs") / claim_id / profile / f"seed-{seed}" / "run.json")


def external_set(tmp_path, name, body):
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    return load_external(path)


def summary_json(*args, **kwargs) -> dict:
    """build_summary as summary.json holds it: these tests check the file's contract, key by key."""
    return build_summary(*args, **kwargs).to_dict()


def results_of_list(summary, claim_id):
    (claim,) = [c for c in summary["claims"] if c["id"] == claim_id]
    return claim["results"]


def results_of(summary, claim_id):
    (claim,) = [c for c in summary["claims"] if c["id"] == claim_id]
    return {r["source"]: r for r in claim["results"]}


def external_set_from_values(claim_id, values, comparable=True):
    """A comparable result set 'ext' with per-seed values for one claim."""
    result = ExternalResult(claim=claim_id, values=tuple(values))
    return ExternalResultSet(source=ExternalSource(title="t"), comparable=comparable, results=(result,), id="ext")


def real_summary_json() -> dict:
    """The summary of the committed claims and runs/external/ alone (the published reproduction)."""
    reg = load_registry([ROOT / "claims"])
    externals = load_externals(ROOT / "runs" / "external", [c.id for c in reg.claims])
    return summary_json(reg, [], externals)
