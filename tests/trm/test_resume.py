"""A `python -m trm train` process killed with SIGKILL and restarted ends exactly like an uninterrupted one."""
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

TINY = Path(__file__).parents[1] / "data" / "trm_tiny_train.yaml"


def command(config: Path, run_dir: Path, cache: Path) -> list:
    return [sys.executable, "-m", "trm", "train", str(config), "--run-dir", str(run_dir), "--data-cache", str(cache),
            "--threads", "1"]


def last_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
    except FileNotFoundError:
        return 0
    steps = [int(line.split(",", 1)[0]) for line in lines[1:] if line.count(",") == 3]
    return max(steps, default=0)


def run_and_kill(cmd: list, metrics: Path, at_step: int) -> bool:
    """Start `cmd`, SIGKILL it once metrics.csv reaches `at_step`; False if it finished first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while proc.poll() is None:
            if last_step(metrics) >= at_step:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_at_random_steps_then_rerun_equals_uninterrupted(tmp_path):
    body = yaml.safe_load(TINY.read_text())
    body["train"].update(epochs=8, eval_interval=2, checkpoint_every=5)  # 60 updates, 4 evaluations
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(body))
    cache = tmp_path / "cache"
    env_ok = subprocess.run(command(config, tmp_path / "ref", cache), capture_output=True, text=True)
    assert env_ok.returncode == 0, env_ok.stderr

    rng = random.Random(20251004)
    kills = [rng.randint(2, 29), rng.randint(31, 58)]  # one kill in each half of the run
    run_dir = tmp_path / "run"
    metrics = run_dir / "metrics.csv"
    killed = [run_and_kill(command(config, run_dir, cache), metrics, step) for step in kills]
    assert any(killed), "every run finished before it could be killed"
    final = subprocess.run(command(config, run_dir, cache), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert metrics.read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()
    ref_result = (tmp_path / "ref" / "result.json").read_text()

    strip = lambda d: {k: v for k, v in json.loads(d).items() if k not in ("wall_time_s", "data")}
    assert strip((run_dir / "result.json").read_text()) == strip(ref_result)
