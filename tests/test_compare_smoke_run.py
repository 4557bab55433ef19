"""The CI's last step (scripts/compare_smoke_run.py) on the committed records: a run compared with itself."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_committed_smoke_run_matches_itself():
    out = subprocess.run([sys.executable, "scripts/compare_smoke_run.py", "runs", "runs", "sudoku-extreme/trm-mlp"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "identical: True" in out.stdout and "+0.00 pp" in out.stdout
