#!/usr/bin/env python3
"""Calibration curves of CPU proxies: one seed per arm, an evaluation every ~10% of the run.

Usage: calibration_curves.py STAGE_DIR

STAGE_DIR holds one folder per arm, each with the arm's TrainConfig (`config.yaml`, what
`python -m trm train` was given) and the trainer's `metrics.csv`. Writes `STAGE_DIR/curves.png`
(test exact and token accuracy against optimizer updates, one line per arm) and
`STAGE_DIR/README.md` (a table per arm: each evaluation, and the gain over the last quarter of the
run, the plateau test of the proxy design: the slowest arm should gain < 2 pp there).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PLATEAU_PP = 2.0  # a proxy's budget is where the slowest arm gains less than this over the last quarter


def read_curve(metrics_csv: Path, metric: str, split: str = "test") -> list[tuple[int, float]]:
    """(step, percent) of every row of `metric` in `split`, in step order: the test evaluations, the
    raw weights' ("test_raw", EMA runs that scored them) or every training step's ("train")."""
    with open(metrics_csv, newline="") as handle:
        rows = [(int(r["step"]), 100.0 * float(r["value"])) for r in csv.DictReader(handle)
                if r["split"] == split and r["metric"] == metric]
    return sorted(rows)


def train_exact_before(train: list[tuple[int, float]], steps: list[int]) -> list[float | None]:
    """Mean training-batch exact accuracy over the steps since the previous evaluation, per evaluation:
    beside the test curve it shows whether a run fits its training puzzles (the overfit regime)."""
    means, previous = [], 0
    for step in steps:
        values = [v for s, v in train if previous < s <= step]
        means.append(sum(values) / len(values) if values else None)
        previous = step
    return means


def last_quarter_gain(curve: list[tuple[int, float]]) -> float | None:
    """Percentage points gained between the evaluation nearest 75% of the run and the last one."""
    if len(curve) < 2:
        return None
    end_step = curve[-1][0]
    start = min(curve, key=lambda point: abs(point[0] - 0.75 * end_step))
    return curve[-1][1] - start[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", type=Path)
    args = parser.parse_args()
    arms = sorted(p for p in args.stage.iterdir() if (p / "metrics.csv").is_file())
    if not arms:
        print(f"{args.stage}: no arm folder with a metrics.csv")
        return 2
    figure, (exact_ax, token_ax) = plt.subplots(1, 2, figsize=(11, 4))
    lines = [f"# Calibration: {args.stage.name}", "",
             "One seed per arm; test metrics at every evaluation (percent). Regenerate with "
             f"`python scripts/calibration_curves.py {args.stage.as_posix()}`.", "",
             "Each evaluation: step: test exact / test token accuracy, then the raw weights' test exact (EMA runs that "
             "scored them) and the mean training-batch exact accuracy since the previous evaluation (train).", "",
             "| arm | evaluations (step: exact / token; raw; train) | exact gain over the last quarter (pp) | plateaued (< 2 pp) |",
             "|---|---|---|---|"]
    for arm in arms:
        exact = read_curve(arm / "metrics.csv", "exact_accuracy")
        token = read_curve(arm / "metrics.csv", "accuracy")
        exact_ax.plot(*zip(*exact), marker="o", label=arm.name)
        token_ax.plot(*zip(*token), marker="o", label=arm.name)
        raw = dict(read_curve(arm / "metrics.csv", "exact_accuracy", "test_raw"))
        train = train_exact_before(read_curve(arm / "metrics.csv", "exact_accuracy", "train"), [s for s, _ in exact])
        cells = ", ".join(f"{s}: {e:.1f} / {t:.1f}" + (f"; raw {raw[s]:.1f}" if s in raw else "")
                          + (f"; train {tr:.1f}" if tr is not None else "")
                          for (s, e), (_, t), tr in zip(exact, token, train))
        gain = last_quarter_gain(exact)
        plateau = "—" if gain is None else ("yes" if abs(gain) < PLATEAU_PP else "no")
        lines.append(f"| {arm.name} | {cells} | {'—' if gain is None else f'{gain:+.1f}'} | {plateau} |")
    for ax, title in ((exact_ax, "test exact accuracy (%)"), (token_ax, "test token accuracy (%)")):
        ax.set_xlabel("optimizer updates")
        ax.set_title(title)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(args.stage / "curves.png", dpi=100)
    (args.stage / "README.md").write_text("\n".join(lines + ["", "![curves](curves.png)", ""]))
    print(f"wrote {args.stage / 'curves.png'} and {args.stage / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
