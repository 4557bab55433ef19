"""`python -m trm`: train one config, evaluate an official checkpoint, or time a training step.

    python -m trm train CONFIG.yaml --run-dir DIR [--device cpu] [--seed S]
    python -m trm eval-official CHECKPOINT --config CONFIG.yaml [--device cpu]
    python -m trm bench CONFIG [--batch-size B] [--steps N] ...   (the same as python -m trm.bench)

CONFIG is a TrainConfig body (`model:`, `data:`, `train:`, `seed:`), read strictly (a duplicate key
is an error); `bench` also takes a paper configuration's name. Bad input exits with code 2 and a
one-line message; a training run that fails (diverges) exits with code 1.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click


class _UsageError(click.ClickException):
    """Bad input: exit code 2 with a one-line message."""

    exit_code = 2


def _load_config(path: str, seed=None):
    from trm.config import TrainConfig
    from trm.schema import ConfigError
    from trm.yamlio import YamlFileError, read_yaml

    try:
        cfg = TrainConfig.from_dict(read_yaml(path))
    except YamlFileError as err:
        raise _UsageError(str(err)) from None  # the message already names the file and line
    except ConfigError as err:
        raise _UsageError(f"{path}: {err}") from None
    return cfg if seed is None else cfg.with_seed(seed)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="log progress (INFO) to stderr")
def main(verbose):
    """The bundled TRM/HRM trainer."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--run-dir", required=True, type=click.Path(file_okay=False), help="metrics.csv, checkpoint/, result.json")
@click.option("--device", default="cpu", show_default=True, help="torch device (cuda uses cuda:LOCAL_RANK under torchrun)")
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=None, help="override the config's run seed")
@click.option("--data-cache", type=click.Path(file_okay=False), default=None, help="processed datasets (default RUN_DIR/data)")
@click.option("--threads", type=click.IntRange(min=1, max=4096), default=None, help="torch CPU threads (default: torch's choice)")
def train(config, run_dir, device, seed, data_cache, threads):
    """Train CONFIG into RUN_DIR, resuming from its checkpoint if there is one."""
    import torch

    from trm.errors import TrmError
    from trm.train import train as run_training

    cfg = _load_config(config, seed)
    if threads:
        torch.set_num_threads(threads)
    try:
        result = run_training(cfg, Path(run_dir), device, data_cache=Path(data_cache) if data_cache else None)
    except TrmError as err:  # bad config, bad data, a checkpoint this run cannot resume
        raise _UsageError(f"{config}: {err}") from None
    if int(os.environ.get("RANK", "0")) == 0:
        _write_json(Path(run_dir) / "result.json", result.to_dict())
        click.echo(f"status {result.status}: {result.steps}/{result.total_steps} steps in {result.wall_time_s:.1f} s")
        if result.error:
            click.echo(f"error: {result.error}")
        for label, ev in (("final", result.final), ("best", result.best)):
            if ev is not None:
                click.echo(f"{label} (step {ev.step}, epoch {ev.epoch}): {result.primary_metric} = "
                           f"{ev.value(result.primary_metric):.4f}  {ev.counts.get(result.primary_metric)}")
    sys.exit(0 if result.status == "completed" else 1)


@main.command("eval-official")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TrainConfig YAML: its model section must describe the checkpoint, its data section the test set")
@click.option("--device", default="cpu", show_default=True)
@click.option("--data-cache", type=click.Path(file_okay=False), default="data-cache", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="write the evaluation as JSON here")
def eval_official(checkpoint, config, device, data_cache, out):
    """Evaluate a published official CHECKPOINT on the test split, without training."""
    from trm.evaluate import evaluate_official

    cfg = _load_config(config)
    result = evaluate_official(cfg, Path(checkpoint), device, data_cache=Path(data_cache))
    if out:
        _write_json(Path(out), result.to_dict())
    for name in sorted(result.metrics):
        click.echo(f"{name}: {result.metrics[name]:.6f}" + (f"  {result.counts[name]}" if name in result.counts else ""))


# One step benchmark: this is trm.bench's own command line under `python -m trm`, so that the
# trainer's commands are listed in one place and no second timing loop can drift from the first.
@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("bench_args", nargs=-1, type=click.UNPROCESSED)
def bench(bench_args):
    """Time training steps of a paper configuration or a TrainConfig YAML (python -m trm.bench; -h for its options)."""
    from trm.bench import main as bench_main

    bench_main(list(bench_args), prog="python -m trm bench")


if __name__ == "__main__":
    main()
