"""What `trm-audit run` needs besides the plan: threads, progress bars, tracking, pre-flight and cost lines.

Kept apart from audit.cli so that the command stays a thin wrapper: each helper turns one option
into the library's terms (or prints one block of the plan) and raises InputError on a bad value.
"""
from __future__ import annotations

import sys

import click

from audit.errors import InputError

MAX_THREADS = 4096  # torch.set_num_threads fails in C++ past a C int; no node has more cores


def cost_lines(planned, costs_file) -> list[str]:
    """What a plan will cost: the authors' stated hardware and time, steps per run, and our estimate
    from the measured step costs in `costs_file` (audit.costs), or 'none measured yet'."""
    from pathlib import Path

    from audit.costs import plan_cost_lines, read_measurements

    return plan_cost_lines(planned, read_measurements(Path(costs_file)), Path(costs_file))


def preflight_problems(planned, device, nproc_per_node, runs_dir, data_cache, say=click.echo) -> list[str]:
    """Print the pre-flight findings of a plan (audit.preflight) on this machine with `say`; return the problems."""
    from audit.preflight import preflight_here, problems

    findings = preflight_here(planned, device=device, nproc_per_node=nproc_per_node, runs_dir=runs_dir,
                              data_cache=data_cache)
    say("pre-flight:")
    for finding in findings:
        say(f"  {finding.level:<7} {finding.check}: {finding.message}")
    return [f"{finding.check}: {finding.message}" for finding in problems(findings)]


def record_step_cost(spec, record, timer, device, costs_file, say=click.echo) -> None:
    """Append the seconds per step a --max-steps run measured to the costs file, and say so."""
    from audit.costs import append_measurement, measurement_of_run

    measured = measurement_of_run(spec, record, timer, device)
    if measured is None:
        say(f"  no step cost measured for {spec.claim.id} seed {spec.seed}: fewer than 2 steps ran here")
        return
    append_measurement(costs_file, measured)
    say(f"  step cost: {measured.describe()}; appended to {costs_file}")


def make_progress(spec):
    """A per-run tqdm bar over optimizer steps; silent when stderr is not a terminal."""
    from tqdm import tqdm

    bar = tqdm(desc=f"{spec.claim.id} seed {spec.seed}", unit="step", leave=False,
               disable=not sys.stderr.isatty())

    def progress(step, total):
        if bar.total != total:
            bar.total = total
        bar.n = step
        bar.refresh()

    progress.close = bar.close
    return progress


def set_threads(threads: str) -> None:
    """torch's intra-op threads for training in this process: a number, or 'auto' from the load."""
    import torch

    if threads == "auto":
        from trm.host import threads_for_current_load

        torch.set_num_threads(threads_for_current_load())
    else:
        torch.set_num_threads(thread_count(threads))


def tracking_for(track: str):
    """--track as a trm.tracking.Tracking (None for 'none'); InputError if its package is absent."""
    from trm.tracking import Tracking, TrackingUnavailable, check_available

    if track == "none":
        return None
    tracking = Tracking(kind=track)
    try:
        check_available(tracking)
    except TrackingUnavailable as err:
        raise InputError(f"--track {track}: {err}") from None
    return tracking


def thread_count(threads: str) -> int:
    """--threads as a number; only ASCII digits ('²'.isdigit() is true, but int('²') fails)."""
    if threads.isascii() and threads.isdigit() and 0 < int(threads) <= MAX_THREADS:
        return int(threads)
    raise InputError(f"--threads: expected 'auto' or an integer from 1 to {MAX_THREADS}, got {threads!r}")
