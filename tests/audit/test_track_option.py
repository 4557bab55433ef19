"""`trm-audit run --track tensorboard`: event files beside each run, the record as comparable as without."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.records import read_record

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml"


def run(tmp_path: Path, runs: Path, *extra: str):
    return CliRunner().invoke(cli, ["run", str(FIXTURE), "--claim", "toy/alpha", "--seeds", "0", "--runs-dir", str(runs),
                                    "--data-cache", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1",
                                    *extra])


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="the optional tensorboard package is absent")
def test_track_writes_event_files_and_keeps_the_config_hash(tmp_path):
    from trm.tracking import read_scalars

    tracked = run(tmp_path, tmp_path / "tracked", "--track", "tensorboard")
    plain = run(tmp_path, tmp_path / "plain")
    assert tracked.exit_code == 0 and plain.exit_code == 0, tracked.output + plain.output
    run_dir = Path("toy") / "alpha" / "smoke" / "seed-0"
    with_tracking, without = (read_record(tmp_path / name / run_dir / "run.json") for name in ("tracked", "plain"))
    assert with_tracking.status == without.status == "completed"
    assert with_tracking.config_hash == without.config_hash
    assert not (tmp_path / "plain" / run_dir / "tensorboard").exists()
    scalars = read_scalars(tmp_path / "tracked" / run_dir / "tensorboard")
    final = with_tracking.evaluations[-1]
    assert scalars["test/exact_accuracy"][-1] == (final["step"], pytest.approx(final["metrics"]["exact_accuracy"]))


def test_track_without_the_package_is_bad_input(tmp_path, monkeypatch):
    import trm.tracking

    def absent(tracking):
        raise trm.tracking.TrackingUnavailable("tracking 'tensorboard' needs the tensorboard package")

    monkeypatch.setattr(trm.tracking, "check_available", absent)
    result = run(tmp_path, tmp_path / "runs", "--track", "tensorboard")
    assert result.exit_code == 2 and "--track tensorboard: tracking 'tensorboard' needs" in result.output
    assert not (tmp_path / "runs" / "toy").exists()
