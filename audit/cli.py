"""The `trm-audit` command line: one click group, each command a thin wrapper over a library call.

Commands parse their arguments, call one function, and print a short summary. Library errors
(`audit.errors.AuditError`) become one-line messages with the error's exit code; torch and the
other heavy libraries are imported inside the commands that need them, so `--help` stays fast.
"""
from __future__ import annotations

import functools
import sys

import click

from audit import __version__
from audit.errors import AuditError, InputError
from trm.config import MAX_AUG, MAX_GRID, MAX_ITEMS
from trm.schema import INT64_LIMIT

# Bounds of the numeric options (each bad value is one line, exit 2): a Slurm job runs at most a year;
# processes, devices, parallel runs and threads stay within what one node has (torch.set_num_threads
# fails in C++ past a C int).
MAX_TIME_MIN = 366 * 24 * 60
MAX_PROCESSES = 1024
MAX_THREADS = 4096


def translate_errors(command):
    """Turn AuditError and the trainer's own errors (trm.errors.TrmError: a bad config or data file
    found by trm) into a one-line message and exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from trm.errors import TrmError

        try:
            return command(*args, **kwargs)
        except AuditError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(err.exit_code)
        except TrmError as err:
            click.echo(f"Error: {err}", err=True)
            sys.exit(2)
        except OSError as err:  # a path the user gave that cannot be made or read (too long, not a directory)
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"Error: {where}{err.strerror or err}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trm-audit")
def cli():
    """Audit a paper's claims against achieved results: trm-audit claims | run | import | report."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.option("--no-count", is_flag=True, help="Skip counting parameters (which imports torch).")
@click.option("--show", "show_id", metavar="CLAIM", help="Print CLAIM's profiles resolved (YAML to paste back; "
              "each value's origin: base setup, claim or default) instead of the table.")
@click.option("--profile", "profile_name", metavar="NAME", help="With --show: only this profile.")
@translate_errors
def claims(paths, as_json, no_count, show_id, profile_name):
    """List and validate the claims registry (default: the claims/ directory)."""
    import json

    from audit.listing import format_claims_table, format_profile_yaml, list_claims, show_profile
    from audit.registry import load_registry

    registry = load_registry(paths or ["claims"])
    if profile_name and not show_id:
        raise InputError("--profile: only with --show CLAIM")
    if show_id:
        claim = registry.claim(show_id)
        if profile_name and profile_name not in claim.profiles:
            raise InputError(f"--profile: {show_id} has no profile {profile_name!r} (known: {', '.join(claim.profiles)})")
        shown = [show_profile(claim, p) for name, p in claim.profiles.items() if profile_name in (None, name)]
        click.echo(json.dumps(shown, indent=2) if as_json else "\n\n".join(map(format_profile_yaml, shown)))
        return
    listing = list_claims(registry, count_params=not no_count)
    click.echo(json.dumps(listing, indent=2, sort_keys=True) if as_json else format_claims_table(listing))

def _cost_lines(registry, profile_name) -> list[str]:
    """What a profile will cost: the authors' stated hardware and time, and our estimate where we have one."""
    lines = []
    for claim in registry.claims:
        profile = claim.profiles.get(profile_name)
        if profile is None:
            continue
        stated = ", ".join(x for x in (profile.hardware, profile.time) if x) or "not stated"
        lines.append(f"  {claim.id}: authors: {stated}; our estimate: {profile.estimate or 'none measured yet'}")
    return lines


def _make_progress(spec):
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


def _set_threads(threads: str) -> None:
    """torch's intra-op threads for training in this process: a number, or 'auto' from the load."""
    import torch

    if threads == "auto":
        from trm.host import threads_for_current_load

        torch.set_num_threads(threads_for_current_load())
    else:
        torch.set_num_threads(_thread_count(threads))


def _tracking(track: str):
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


def _thread_count(threads: str) -> int:
    """--threads as a number; only ASCII digits ('²'.isdigit() is true, but int('²') fails)."""
    if threads.isascii() and threads.isdigit() and 0 < int(threads) <= MAX_THREADS:
        return int(threads)
    raise InputError(f"--threads: expected 'auto' or an integer from 1 to {MAX_THREADS}, got {threads!r}")


@cli.command()
@click.argument("claims_files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--claim", "claim_ids", multiple=True, help="Only this claim id (repeatable).")
@click.option("--profile", default=None, help="Profile to run (default: smoke, a CPU proxy).")
@click.option("--seeds", default=None, help="Seeds to train instead of those the profile declares: numbers "
              "and ranges, e.g. 0-4 or 0,2,5-7 (default: the declared seeds).")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True)
@click.option("--nproc-per-node", default=1, type=click.IntRange(min=1, max=MAX_PROCESSES), show_default=True,
              help="Processes (devices) per run, launched with torchrun.")
@click.option("--parallel", default=1, type=click.IntRange(min=1, max=MAX_PROCESSES), show_default=True,
              help="Runs at once on this machine.")
@click.option("--launcher", default="local", type=click.Choice(["local", "slurm"]), show_default=True)
@click.option("--partition", default=None, help="Slurm partition ('local' runs the jobs here through submitit).")
@click.option("--gpus-per-node", default=1, type=click.IntRange(min=0, max=MAX_PROCESSES), show_default=True)
@click.option("--time-min", default=60 * 24, type=click.IntRange(min=1, max=MAX_TIME_MIN), show_default=True, help="Slurm time limit.")
@click.option("--account", default=None, help="Slurm account.")
@click.option("--data-cache", default="data-cache", type=click.Path(path_type=str), show_default=True,
              help="Where built datasets are cached (shared by every run; out of git).")
@click.option("--rerun-stale", is_flag=True, help="Retrain runs whose record no longer matches the profile.")
@click.option("--threads", default="auto", show_default=True,
              help="CPU threads for in-process training: a number, or 'auto' (the cores the load leaves free).")
@click.option("--track", default="none", type=click.Choice(["none", "tensorboard"]), show_default=True,
              help="Also log each run's metrics.csv rows as TensorBoard scalars in RUN_DIR/tensorboard/ "
              "(needs the 'tracking' extra; not part of the config, so records stay comparable).")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@translate_errors
def run(claims_files, claim_ids, profile, seeds, runs_dir, device, nproc_per_node, parallel, launcher,
        partition, gpus_per_node, time_min, account, data_cache, rerun_stale, threads, track, dry_run):
    """Train what is missing for CLAIMS_FILES: (claim x profile x seed); completed runs are skipped."""
    import os
    from pathlib import Path

    # Before torch loads OpenMP: idle threads sleep instead of spinning. On a shared CPU, spinning
    # threads stall each other at every parallel region (measured 7-41x slower steps on 2 loaded cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads != "auto":
        _thread_count(threads)  # a bad value is refused before the plan, not after it is printed

    from audit.evidence import checkpoint_rule, selected_evaluation
    from audit.launch import LaunchOptions, check_environment, execute, resolve_device
    from audit.plan import assess, describe_seeds, expand_plan, format_plan
    from audit.registry import load_registry
    from audit.seed_lists import parse_seed_list

    override = None if seeds is None else list(parse_seed_list(seeds, "--seeds"))
    claim_ids = tuple(dict.fromkeys(claim_ids))  # --claim X --claim X plans X once
    registry = load_registry(claims_files)
    if profile is None:
        profile = "smoke"
        click.echo("profile: smoke (the default: a CPU proxy of each claim, not comparable with the paper; "
                   "use --profile paper for the paper's setup)")
    else:
        click.echo(f"profile: {profile}")
    if profile == "paper":
        click.echo("The paper profile trains at the paper's scale. Cost as stated:")
        for line in _cost_lines(registry, profile):
            click.echo(line)
    specs = expand_plan(registry, profile=profile, seeds=override, runs_dir=Path(runs_dir), claim_ids=claim_ids)
    for line in describe_seeds(specs, override):
        click.echo(line)
    planned = [assess(spec) for spec in specs]
    click.echo(format_plan(planned))
    if dry_run:
        return
    _set_threads(threads)
    tracking = _tracking(track)
    options = LaunchOptions(device=resolve_device(device), nproc_per_node=nproc_per_node, parallel=parallel,
                            launcher=launcher, data_cache=Path(data_cache) if data_cache else None,
                            rerun_stale=rerun_stale, slurm_partition=partition, slurm_gpus_per_node=gpus_per_node,
                            slurm_time_min=time_min, slurm_account=account,
                            slurm_folder=Path(runs_dir) / ".submitit", tracking=tracking)
    check_environment(options, planned)
    outcomes = []

    def on_done(spec, record):
        outcomes.append(record)
        if record is None:
            click.echo(f"  skipped {spec.claim.id} seed {spec.seed} (done, stale or run by another process)")
        elif record.status == "completed":
            chosen = selected_evaluation(record, spec.claim)
            click.echo(f"  done    {spec.claim.id} seed {spec.seed}: {record.metric} {chosen.value:.2f}% "
                       f"({checkpoint_rule(spec.claim)}, step {chosen.step}, {record.wall_time_s:.0f} s)")
        else:
            click.echo(f"  FAILED  {spec.claim.id} seed {spec.seed}: {record.error}")

    execute(planned, options, on_done=on_done, progress_factory=_make_progress)
    failed = sum(record is not None and record.status == "failed" for record in outcomes)
    click.echo(f"{failed} of {len(outcomes)} runs failed")
    if failed:  # exit 1 after every run had its turn: a failed run is a check that failed
        sys.exit(1)


@cli.command("import")
@click.argument("results_file", type=click.Path(path_type=str))
@click.option("--claims", "claims_paths", multiple=True, default=("claims",), show_default=True,
              type=click.Path(path_type=str), help="Claims files or directories the results must refer to.")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@click.option("--replace", "replace_existing", is_flag=True, help="Overwrite a different file of the same name.")
@translate_errors
def import_results(results_file, claims_paths, runs_dir, replace_existing):
    """Validate RESULTS_FILE (results obtained elsewhere, YAML) and copy it into runs/external/."""
    from pathlib import Path

    from audit.external import import_external, load_external
    from audit.records import EXTERNAL_DIR
    from audit.registry import load_registry

    from audit.report import fraction_warnings

    registry = load_registry(claims_paths)
    claim_ids = [claim.id for claim in registry.claims]
    target = import_external(results_file, Path(runs_dir) / EXTERNAL_DIR, claim_ids=claim_ids,
                             replace_existing=replace_existing)
    result_set = load_external(target, claim_ids)
    click.echo(f"imported {target} ({result_set.source.title}; comparable: {str(result_set.comparable).lower()})")
    for result in result_set.results:
        kind = "per-seed values" if result.values is not None else f"mean ± ({result.pm_kind})"
        click.echo(f"  {result.claim}: {result_set.source_name(result)}, {kind}")
    if result_set.comparable:
        click.echo("  its tested results join the report's Holm family: every member's adjusted p changes "
                   "(the report's methods section lists the members)")
    for warning in fraction_warnings(registry, [result_set]):
        click.echo(f"warning: {warning}", err=True)


@cli.command("plan-seeds")
@click.option("--claim", "claim_id", required=True, help="The claim id.")
@click.option("--gap", type=click.FloatRange(max=100), default=None,
              help="Difference to detect, pp (default: the claim's tolerance).")
@click.option("--sd", type=click.FloatRange(max=100), default=None,
              help="Seed SD, pp (default: observed on the runs of --profile).")
@click.option("--profile", default="paper", show_default=True,
              help="The profile (or external source) whose observed seed SD is used; refused when it has no spread.")
@click.option("--claims", "claims_paths", multiple=True, default=("claims",), show_default=True,
              type=click.Path(path_type=str), help="Claims files or directories.")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@translate_errors
def plan_seeds_command(claim_id, gap, sd, profile, claims_paths, runs_dir):
    """Seeds needed to detect a gap with a one-sided test at alpha 0.05 and power 0.8."""
    from pathlib import Path

    from audit.seeds import plan_seeds
    from audit.external import load_externals
    from audit.records import EXTERNAL_DIR, read_records
    from audit.registry import load_registry

    registry = load_registry(claims_paths)
    records, _ = read_records(Path(runs_dir))
    externals = load_externals(Path(runs_dir) / EXTERNAL_DIR, [claim.id for claim in registry.claims])
    advice = plan_seeds(registry, records, externals, claim_id, gap=gap, sd=sd, profile=profile)
    one, two = advice.one_sample, advice.two_sample
    click.echo(f"{advice.claim_id}: detect {advice.gap:g} pp at seed SD {advice.sd:.3g} pp ({advice.sd_from}); "
               f"one-sided alpha {one.alpha:g}, power {one.power:g}")
    click.echo(f"  against the claimed number (one sample): {one.exact_t} seeds "
               f"(exact, noncentral t; z approximation {one.z_approx})")
    click.echo(f"  between two setups (two samples): {two.exact_t} seeds per arm "
               f"(exact, noncentral t; z approximation {two.z_approx})")
    if advice.power_one_sample is not None:
        click.echo(f"  power of the current {advice.n_current} seeds: {advice.power_one_sample:.2f} (one sample), "
                   f"{advice.power_two_sample:.2f} (two samples, {advice.n_current} per arm)")


@cli.group()
def data():
    """Build and inspect the benchmarks' processed datasets."""


@data.command("build")
@click.argument("benchmark", type=click.Choice(["sudoku-extreme", "maze-hard", "arc-agi-1", "arc-agi-2"]))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=str), help="New processed directory.")
@click.option("--source", "source", default=None, type=click.Path(exists=True, file_okay=False, path_type=str),
              help="Real data: hub CSV dir (train.csv, test.csv) or Kaggle ARC dir. Default: the offline stand-in.")
@click.option("--size", type=click.IntRange(min=1, max=MAX_ITEMS), default=None, help="Original training items (groups).")
@click.option("--test-size", type=click.IntRange(min=1, max=MAX_ITEMS), default=None, help="Test items (default: all; stand-ins: --size).")
@click.option("--seed", type=click.IntRange(min=0, max=INT64_LIMIT), default=0, show_default=True)
@click.option("--grid-size", type=click.IntRange(min=1, max=MAX_GRID), default=None, help="Sudoku 4/6/8/9, maze side, ARC canvas.")
@click.option("--num-aug", type=click.IntRange(min=0, max=MAX_AUG), default=None, help="Augmented versions per item (Sudoku, ARC).")
@click.option("--difficulty", type=click.IntRange(min=0, max=MAX_GRID * MAX_GRID), default=None,
              help="Stand-ins: Sudoku givens, or minimum maze path length in moves.")
@click.option("--dihedral-aug/--no-dihedral-aug", default=None, help="Maze: the 8 dihedral versions (official --aug).")
@translate_errors
def data_build(benchmark, out_dir, source, size, test_size, seed, grid_size, num_aug, difficulty, dihedral_aug):
    """Build BENCHMARK's processed directory (paper settings unless overridden)."""
    from pathlib import Path

    from trm.data.benchmarks import benchmark_config
    from trm.data.prepare import build_dataset
    from trm.data.summary import describe_dataset

    cfg = benchmark_config(benchmark, source=Path(source) if source else None, seed=seed, train_size=size,
                           test_size=test_size, grid_size=grid_size, num_aug=num_aug, difficulty=difficulty,
                           dihedral_aug=dihedral_aug)
    root = build_dataset(cfg, Path(out_dir))
    lines = describe_dataset(root, example=False)
    for line in lines:
        if not line.startswith("deviation:"):
            click.echo(line)
    deviations = sum(line.startswith("deviation:") for line in lines)
    click.echo(f"{deviations} deviations from the paper's data recorded in build.json (trm-audit data show {root})")


@data.command("show")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=str))
@translate_errors
def data_show(directory):
    """Sizes, vocabulary, content hash and an example grid of a processed DIRECTORY."""
    from pathlib import Path

    from trm.data.summary import describe_dataset

    for line in describe_dataset(Path(directory)):
        click.echo(line)


@cli.command()
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True,
              help="Run records, and external results under runs/external/.")
@click.option("--claims", "claims_paths", multiple=True, default=("claims",), show_default=True,
              type=click.Path(path_type=str), help="Claims files or directories.")
@click.option("--out", "out_dir", default="reports", type=click.Path(path_type=str), show_default=True)
@click.option("--check", is_flag=True, help="Regenerate into a temporary directory; exit 1 if --out differs.")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True,
              help="html also writes report.html (self-contained, images inlined); an existing one is kept current.")
@click.option("--force", is_flag=True, help="Overwrite an existing report even when --runs-dir holds no records at all.")
@translate_errors
def report(runs_dir, claims_paths, out_dir, check, fmt, force):
    """Write report.md, summary.json and plots/*.png from the runs; --check: fail if the committed ones are stale."""
    from audit.errors import CheckFailed
    from audit.report import check_report, generate_report

    if check:
        difference = check_report(runs_dir, claims_paths, out_dir)
        if difference:
            raise CheckFailed(f"report is stale: {difference} (run: trm-audit report)")
        click.echo(f"{out_dir}: up to date (report.md, summary.json and every plot byte-identical)")
        return
    from pathlib import Path

    html = fmt == "html" or (Path(out_dir) / "report.html").is_file()  # never leave a stale report.html behind
    files = generate_report(runs_dir, claims_paths, out_dir, html=html, force=force)
    plots = sum(name.endswith(".png") for name in files)
    click.echo(f"wrote {out_dir}/: " + ", ".join(n for n in sorted(files) if not n.endswith(".png"))
               + f" and {plots} plots")


def main():
    cli(prog_name="trm-audit")
