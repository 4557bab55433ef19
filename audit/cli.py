"""The `trm-audit` command line: one click group, each command a thin wrapper over a library call.

Commands parse their arguments, call one function, and print a short summary. Library errors
(`audit.errors.AuditError`) become one-line messages with the error's exit code; torch and the
other heavy libraries are imported inside the commands that need them, so `--help` stays fast.
"""
from __future__ import annotations

import functools
import sys

import click

from audit import __version__, run_options
from audit.errors import AuditError, InputError
from trm.config import MAX_AUG, MAX_GRID, MAX_ITEMS
from trm.schema import INT64_LIMIT

# Bounds of the numeric options (each bad value is one line, exit 2): a Slurm job runs at most a year;
# processes, devices and parallel runs stay within what one node has (threads: audit.run_options).
MAX_TIME_MIN = 366 * 24 * 60
MAX_PROCESSES = 1024


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

@cli.command()
@click.argument("claims_files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--claim", "claim_ids", multiple=True, help="Only this claim id (repeatable).")
@click.option("--profile", "profiles", multiple=True, help="Profile to run (repeatable; default: smoke, a CPU "
              "proxy). Without --claim, every claim that has it; the plan names those that do not.")
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
@click.option("--max-steps", type=click.IntRange(min=1, max=INT64_LIMIT), default=None,
              help="A quick try: at most N optimizer steps, recorded as profile 'PROFILE@max-steps-N' (never "
              "comparable, never pooled with PROFILE); times the steps and appends them to --costs-file.")
@click.option("--costs-file", default="reports/step-costs.jsonl", show_default=True, type=click.Path(path_type=str),
              help="Measured seconds per step: read for the plan's cost estimate, appended to by --max-steps.")
@click.option("--track", default="none", type=click.Choice(["none", "tensorboard"]), show_default=True,
              help="Also log each run's metrics.csv rows as TensorBoard scalars in RUN_DIR/tensorboard/ "
              "(needs the 'tracking' extra; not part of the config, so records stay comparable).")
@click.option("--dry-run", is_flag=True, help="Print the plan and its pre-flight checks and stop (exit 1 on a problem).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and each run's outcome as one JSON document "
              "on stdout; progress lines go to stderr.")
@translate_errors
def run(claims_files, claim_ids, profiles, seeds, runs_dir, device, nproc_per_node, parallel, launcher,
        partition, gpus_per_node, time_min, account, data_cache, rerun_stale, threads, max_steps, costs_file,
        track, dry_run, as_json):
    """Train what is missing for CLAIMS_FILES: (claim x profile x seed); completed runs are skipped."""
    import json
    import os
    from pathlib import Path

    # Before torch loads OpenMP: idle threads sleep instead of spinning. On a shared CPU, spinning
    # threads stall each other at every parallel region (measured 7-41x slower steps on 2 loaded cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads != "auto":
        run_options.thread_count(threads)  # a bad value is refused before the plan, not after it is printed
    tracking = run_options.tracking_for(track)  # a missing tracking package is refused before the plan, too

    from audit.evidence import checkpoint_rule, selected_evaluation
    from audit.json_documents import outcome_json, planned_json
    from audit.launch import LaunchOptions, check_environment, execute, resolve_device
    from audit.plan import assess, claims_without, describe_seeds, expand_plan, format_plan
    from audit.registry import budget_cut_name, load_registry
    from audit.seed_lists import parse_seed_list

    say = functools.partial(click.echo, err=as_json)  # with --json, stdout holds the JSON document only
    override = None if seeds is None else list(parse_seed_list(seeds, "--seeds"))
    claim_ids = tuple(dict.fromkeys(claim_ids))  # --claim X --claim X plans X once
    registry = load_registry(claims_files)
    profiles = tuple(dict.fromkeys(profiles))  # --profile X --profile X plans X once
    if not profiles:
        profiles = ("smoke",)
        say("profile: smoke (the default: a CPU proxy of each claim, not comparable with the paper; "
            "use --profile paper for the paper's setup)")
    else:
        say(f"profile{'s' if len(profiles) > 1 else ''}: {', '.join(profiles)}")
    specs = []
    for profile in profiles:
        specs += expand_plan(registry, profile=profile, seeds=override, runs_dir=Path(runs_dir),
                             claim_ids=claim_ids, max_steps=max_steps)
        if not claim_ids and (absent := claims_without(registry, profile)):
            say(f"not planned for {profile}: {len(absent)} claim{'s' if len(absent) > 1 else ''} without that "
                f"profile ({', '.join(absent)})")
        if max_steps is not None:
            say(f"a quick try: at most {max_steps} optimizer steps per run, recorded as profile "
                f"{budget_cut_name(profile, max_steps)} (not comparable, never pooled with {profile})")
    for line in describe_seeds(specs, override):
        say(line)
    planned = [assess(spec) for spec in specs]
    if "paper" in profiles:
        say("The paper profile trains at the paper's scale. Cost as stated, and our estimate:")
        for line in run_options.cost_lines(planned, costs_file):
            say(line)
    if "paper" not in profiles and max_steps is None:
        from audit.costs import timed_runs_lines

        for line in timed_runs_lines(planned, parallel):
            say(line)
    say(format_plan(planned))
    document = {"profiles": list(profiles), "dry_run": dry_run, "plan": [planned_json(p) for p in planned], "runs": []}
    if dry_run:
        problems = run_options.preflight_problems(planned, device, nproc_per_node, runs_dir, data_cache, say)
        if as_json:
            document["preflight_problems"] = problems
            click.echo(json.dumps(document, indent=2, sort_keys=True))
        if problems:
            sys.exit(1)  # each problem was printed as its own line
        return
    run_options.set_threads(threads)
    options = LaunchOptions(device=resolve_device(device), nproc_per_node=nproc_per_node, parallel=parallel,
                            launcher=launcher, data_cache=Path(data_cache) if data_cache else None,
                            rerun_stale=rerun_stale, slurm_partition=partition, slurm_gpus_per_node=gpus_per_node,
                            slurm_time_min=time_min, slurm_account=account,
                            slurm_folder=Path(runs_dir) / ".submitit", tracking=tracking)
    check_environment(options, planned)
    outcomes = []
    timers = {}  # spec name -> audit.costs.StepTimer, for --max-steps runs trained in this process

    def progress_factory(spec):
        bar = run_options.make_progress(spec)
        if max_steps is None:
            return bar
        from audit.costs import StepTimer

        timers[spec.name] = StepTimer(bar)
        return timers[spec.name]

    if max_steps is not None and (parallel > 1 or nproc_per_node > 1 or launcher != "local"):
        say("note: seconds per step are measured only for runs trained in this process "
            "(--parallel 1, --nproc-per-node 1, --launcher local)")

    def on_done(spec, record):
        outcomes.append(record)
        chosen = selected_evaluation(record, spec.claim) if record is not None else None
        document["runs"].append(outcome_json(spec, record, chosen))
        if record is None:
            say(f"  skipped {spec.claim.id} seed {spec.seed} (done, stale or run by another process)")
        elif record.status == "completed":
            say(f"  done    {spec.claim.id} seed {spec.seed}: {record.metric} {chosen.value:.2f}% "
                f"({checkpoint_rule(spec.claim)}, step {chosen.step}, {record.wall_time_s:.0f} s)")
        else:
            say(f"  FAILED  {spec.claim.id} seed {spec.seed}: {record.error}")
        if record is not None and spec.name in timers:
            run_options.record_step_cost(spec, record, timers[spec.name], options.device, costs_file, say)

    execute(planned, options, on_done=on_done, progress_factory=progress_factory)
    failed = sum(record is not None and record.status == "failed" for record in outcomes)
    say(f"{failed} of {len(outcomes)} runs failed")
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    if failed:  # exit 1 after every run had its turn: a failed run is a check that failed
        sys.exit(1)


@cli.command("import")
@click.argument("results_file", required=False, type=click.Path(path_type=str))
@click.option("--claims", "claims_paths", multiple=True, default=("claims",), show_default=True,
              type=click.Path(path_type=str), help="Claims files or directories the results must refer to.")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@click.option("--replace", "replace_existing", is_flag=True, help="Overwrite a different file of the same name.")
@click.option("--dry-run", is_flag=True, help="Validate and say what would be written (or removed); write nothing.")
@click.option("--list", "list_sets", is_flag=True, help="List the imported result sets (runs/external/*.yaml).")
@click.option("--remove", "remove_id", metavar="ID", help="Delete the imported result set ID (its file name "
              "without .yaml, as --list shows it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document; warnings go to stderr.")
@translate_errors
def import_results(results_file, claims_paths, runs_dir, replace_existing, dry_run, list_sets, remove_id, as_json):
    """Validate RESULTS_FILE (results obtained elsewhere, YAML) and copy it into runs/external/;
    or --list the imported sets, or --remove one."""
    import json
    from pathlib import Path

    from audit.import_modes import import_file, list_imports, remove_import
    from audit.records import EXTERNAL_DIR
    from audit.registry import load_registry

    modes = [name for name, given in (("RESULTS_FILE", results_file), ("--list", list_sets),
                                      ("--remove", remove_id)) if given]
    if len(modes) != 1:
        raise InputError("import: give one of RESULTS_FILE, --list or --remove ID" +
                         (f" (got {' and '.join(modes)})" if modes else ""))
    if replace_existing and not results_file:
        raise InputError("--replace: only with RESULTS_FILE")
    external_dir = Path(runs_dir) / EXTERNAL_DIR
    registry = load_registry(claims_paths)
    if list_sets:
        document = list_imports(external_dir, registry, as_json)
    elif remove_id:
        document = remove_import(external_dir, remove_id, dry_run, as_json)
    else:
        document = import_file(results_file, external_dir, registry, replace_existing, dry_run, as_json)
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))


@cli.command("status")
@click.argument("claims_paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--claim", "claim_ids", multiple=True, help="Only this claim id (repeatable).")
@click.option("--profile", "profiles", multiple=True, help="Only this profile (repeatable; default: every profile "
              "the claims declare or the runs directory holds).")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per run, instead of the table.")
@translate_errors
def status_command(claims_paths, claim_ids, profiles, runs_dir, as_json):
    """Where each run of CLAIMS_PATHS (default: claims/) stands: done, running, failed, stale, resumable, missing."""
    import json
    from pathlib import Path

    from audit.registry import load_registry
    from audit.status import collect_status, format_status, status_json

    registry = load_registry(claims_paths or ["claims"])
    if not Path(runs_dir).is_dir():
        raise InputError(f"--runs-dir: {runs_dir}: no such directory")
    rows = collect_status(registry, Path(runs_dir), claim_ids=claim_ids, profiles=profiles)
    click.echo(json.dumps(status_json(rows), indent=2, sort_keys=True) if as_json else format_status(rows))


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
@click.option("--json", "as_json", is_flag=True, help="Print the files written and every verdict of the summary "
              "as one JSON document (with --check: whether the report is current).")
@translate_errors
def report(runs_dir, claims_paths, out_dir, check, fmt, force, as_json):
    """Write report.md, summary.json and plots/*.png from the runs; --check: fail if the committed ones are stale."""
    import json

    from audit.errors import CheckFailed
    from audit.report import check_report, generate_report

    if check:
        difference = check_report(runs_dir, claims_paths, out_dir)
        if as_json:
            click.echo(json.dumps({"out_dir": out_dir, "up_to_date": not difference, "difference": difference or None},
                                  indent=2, sort_keys=True))
        if difference:
            raise CheckFailed(f"report is stale: {difference} (run: trm-audit report)")
        if not as_json:
            click.echo(f"{out_dir}: up to date (report.md, summary.json and every plot byte-identical)")
        return
    from pathlib import Path

    html = fmt == "html" or (Path(out_dir) / "report.html").is_file()  # never leave a stale report.html behind
    files = generate_report(runs_dir, claims_paths, out_dir, html=html, force=force)
    if as_json:
        from audit.json_documents import verdicts_json
        from audit.report import SUMMARY_JSON

        summary = json.loads((Path(out_dir) / SUMMARY_JSON).read_text(encoding="utf-8"))
        click.echo(json.dumps({"out_dir": out_dir, "files": sorted(files), **verdicts_json(summary)},
                              indent=2, sort_keys=True))
        return
    plots = sum(name.endswith(".png") for name in files)
    click.echo(f"wrote {out_dir}/: " + ", ".join(n for n in sorted(files) if not n.endswith(".png"))
               + f" and {plots} plots")


@cli.command("evaluate")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.option("--claim", "claim_id", required=True, help="The claim whose protocol scores the checkpoint.")
@click.option("--profile", default=None, help="Profile whose config gives the test data and evaluation settings "
              "(default: paper).")
@click.option("--seed", type=click.IntRange(min=0, max=INT64_LIMIT), default=None,
              help="Which of the profile's seeds' configs (default: its first declared seed).")
@click.option("--claims", "claims_paths", multiple=True, default=("claims",), show_default=True,
              type=click.Path(path_type=str), help="Claims files or directories.")
@click.option("--runs-dir", default="runs", type=click.Path(file_okay=False, path_type=str), show_default=True)
@click.option("--data-cache", default="data-cache", type=click.Path(path_type=str), show_default=True,
              help="Where built datasets are cached.")
@click.option("--device", default="cpu", type=click.Choice(["cpu", "cuda"]), show_default=True)
@translate_errors
def evaluate(checkpoint, claim_id, profile, seed, claims_paths, runs_dir, data_cache, device):
    """Score CHECKPOINT (ours or official key names) with a claim's protocol; record it as its own source."""
    from audit.evaluate_checkpoint import evaluate_checkpoint
    from audit.evidence import selected_evaluation
    from audit.registry import load_registry

    registry = load_registry(claims_paths)
    record = evaluate_checkpoint(registry, claim_id, checkpoint, runs_dir=runs_dir, data_cache=data_cache,
                                 profile=profile, seed=seed, device=device)
    chosen = selected_evaluation(record, registry.claim(claim_id))
    ckpt = record.checkpoint
    step = "step unknown" if ckpt["step"] is None else f"step {ckpt['step']}"
    counts = f" ({chosen.correct:g}/{chosen.total:g})" if chosen.correct is not None and chosen.total else ""
    click.echo(f"{record.claim_id} / {record.profile} / seed {record.seed}: {ckpt['layout']} checkpoint, "
               f"{ckpt['weights']} weights, {step}, sha256 {ckpt['sha256'][:16]}")
    click.echo(f"  {record.metric} {chosen.value:.2f}%{counts}; recorded in {record.path}")


def main():
    cli(prog_name="trm-audit")
