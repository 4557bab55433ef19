"""Launchers: how the planned runs of `trm-audit run` get executed.

- `local`, one run at a time in this process (or under torchrun with --nproc-per-node > 1);
- `local` with `parallel > 1`: several runs at once on one machine, each in its own process with
  its share of the CPU threads (many seeds of a small model waste a big device one at a time);
- `slurm`: one submitit job per run; a requeued job resumes its own run directory.
Every path ends in `audit.runner.run_one`, so locking, resuming and records behave the same.
"""
from __future__ import annotations

import concurrent.futures as futures
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from trm.host import threads_per_worker
from trm.tracking import Tracking

from audit.errors import InputError
from audit.plan import PlannedRun, RunSpec
from audit.records import RunRecord
from audit.runner import run_one, train_in_process, train_with_torchrun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchOptions:
    """How to execute a plan (from the command line)."""

    device: str = "cpu"
    nproc_per_node: int = 1
    parallel: int = 1
    launcher: str = "local"
    data_cache: Optional[Path] = None
    rerun_stale: bool = False
    slurm_partition: Optional[str] = None
    slurm_gpus_per_node: int = 1
    slurm_time_min: int = 60 * 24
    slurm_account: Optional[str] = None
    slurm_folder: Optional[Path] = None
    tracking: Optional[Tracking] = None
    """metrics also to TensorBoard (trm.tracking); outside the runs' configs, so hashes do not change"""


def resolve_device(device: str) -> str:
    """'auto' is CUDA when torch sees a GPU, else the CPU; 'cuda' without a GPU is bad environment
    (InputError before any run starts, not one failed record per run)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device here (use --device cpu or auto)")
    return device


def check_environment(options: LaunchOptions, planned: list[PlannedRun]) -> None:
    """Raise InputError for what would make every run fail, before any run starts: a data cache that
    is not a directory, run directories the plan cannot use (`blocked`: symlinks, unreadable)."""
    cache = options.data_cache
    if cache is not None and cache.exists() and not cache.is_dir():
        raise InputError(f"--data-cache: {cache} is not a directory")
    blocked = [p for p in planned if p.state == "blocked"]
    if blocked:
        raise InputError(f"{len(blocked)} run directories cannot be used: " + "; ".join(p.note for p in blocked))


def trainer_for(options: LaunchOptions, progress_factory: Optional[Callable] = None) -> Callable[[RunSpec], dict]:
    """The function that trains one spec under these options."""
    if options.nproc_per_node > 1:
        return functools.partial(train_with_torchrun, nproc_per_node=options.nproc_per_node,
                                 device=options.device, data_cache=options.data_cache, tracking=options.tracking)

    def train(spec: RunSpec) -> dict:
        progress = progress_factory(spec) if progress_factory else None
        try:
            return train_in_process(spec, device=options.device, data_cache=options.data_cache, progress=progress,
                                    tracking=options.tracking)
        finally:
            if progress is not None and hasattr(progress, "close"):
                progress.close()

    return train


def execute(planned: list[PlannedRun], options: LaunchOptions, *,
            on_done: Callable[[RunSpec, Optional[RunRecord]], None],
            progress_factory: Optional[Callable] = None) -> None:
    """Run every planned spec that needs training; call on_done(spec, record or None) after each."""
    todo = [p.spec for p in planned if p.needs_training or (options.rerun_stale and p.state == "stale")]
    if options.launcher == "slurm":
        _execute_slurm(todo, options, on_done)
    elif options.parallel > 1:
        _execute_parallel(todo, options, on_done)
    else:
        trainer = trainer_for(options, progress_factory)
        for spec in todo:
            on_done(spec, run_one(spec, trainer, rerun_stale=options.rerun_stale))


def _run_in_child(spec: RunSpec, options: LaunchOptions, threads: int) -> Optional[RunRecord]:
    import torch

    torch.set_num_threads(threads)
    return run_one(spec, trainer_for(options), rerun_stale=options.rerun_stale)


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end the worker soon after the launching process is gone.

    Killed with SIGKILL, the launcher cannot stop its pool; its workers used to finish their run and
    then wait forever for work (orphans holding memory and the launcher's output pipes). Now a
    worker whose parent changed exits at once, as if killed with it; its run resumes next time.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _execute_parallel(todo: list[RunSpec], options: LaunchOptions, on_done) -> None:
    threads = threads_per_worker(options.parallel)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(max_workers=options.parallel, mp_context=context,
                                     initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        jobs = {pool.submit(_run_in_child, spec, options, threads): spec for spec in todo}
        for job in futures.as_completed(jobs):
            on_done(jobs[job], job.result())


def _execute_slurm(todo: list[RunSpec], options: LaunchOptions, on_done) -> None:
    try:
        import submitit
    except ImportError:
        raise InputError("--launcher slurm: the submitit package is not installed") from None
    folder = options.slurm_folder or Path("runs") / ".submitit"
    cluster = "local" if options.slurm_partition == "local" else None  # 'local' runs the jobs here (tests)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = {"timeout_min": options.slurm_time_min, "gpus_per_node": options.slurm_gpus_per_node,
              "tasks_per_node": 1, "nodes": 1}
    if cluster is None:
        params["slurm_partition"] = options.slurm_partition
        if options.slurm_account:
            params["slurm_account"] = options.slurm_account
    executor.update_parameters(**params)
    jobs = [(spec, executor.submit(_slurm_job, spec, options)) for spec in todo]
    for spec, job in jobs:
        log.info("submitted %s as job %s", spec.name, job.job_id)
    for spec, job in jobs:
        on_done(spec, job.result())


class _SlurmJob:
    """A checkpointable submitit callable: on preemption or timeout the job is requeued and resumes."""

    def __call__(self, spec: RunSpec, options: LaunchOptions) -> Optional[RunRecord]:
        return run_one(spec, trainer_for(options), rerun_stale=options.rerun_stale)

    def checkpoint(self, spec: RunSpec, options: LaunchOptions):
        import submitit

        # The trainer checkpoints on its own; requeueing the same call resumes from that checkpoint.
        return submitit.helpers.DelayedSubmission(self, spec, options)


_slurm_job = _SlurmJob()
