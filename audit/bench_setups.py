"""The claims registry's profiles as step-benchmark setups: `PROFILE:CLAIM-ID` for trm.bench.

    python -m audit.bench_setups CONFIG [--claims FILE_OR_DIR ...] [trm.bench options]

CONFIG is a registry profile as `PROFILE:CLAIM-ID` (e.g. `smoke:sudoku-extreme/trm-mlp`) or
anything trm.bench takes itself (a paper configuration, a TrainConfig YAML). The trainer's bench
knows nothing of claims; this module looks the profile up and hands trm.bench its setup, so that
scripts/bench_vs_official.py can time a claim's own configuration against the official code.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Optional

from trm.bench import PAPER_SETUPS, BenchSetup, main as bench_main, resolve_setup, setup_from_config

from audit.errors import InputError

CLAIMS = Path(__file__).resolve().parents[1] / "claims"


def resolve_bench_setup(name: str, *, claims: Iterable[Path | str] = (CLAIMS,)) -> BenchSetup:
    """`PROFILE:CLAIM-ID` of the registry in `claims` (files or folders) as a BenchSetup named `name`,
    or whatever `trm.bench.resolve_setup` resolves. Raises KeyError naming the known choices
    (InputError if the claims files themselves are bad)."""
    profile_name, sep, claim_id = name.partition(":")
    if not sep:
        return resolve_setup(name)
    from audit.registry import load_registry

    registry = load_registry(claims)
    try:
        profile = registry.claim(claim_id).profiles[profile_name]
    except (KeyError, InputError):
        known = [f"{p}:{c.id}" for c in registry.claims for p in c.profiles]
        raise KeyError(f"unknown config {name!r}: expected one of {sorted(PAPER_SETUPS) + sorted(known)}") from None
    return setup_from_config(name, profile.config)


def main(argv: Optional[list[str]] = None) -> None:
    """trm.bench's command line with registry profiles added; `--claims` says where the registry is."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--claims", nargs="+", default=[str(CLAIMS)])
    known, rest = parser.parse_known_args(argv)

    def resolve(name: str) -> BenchSetup:
        try:
            return resolve_bench_setup(name, claims=known.claims)
        except InputError as err:  # a bad claims file: trm.bench exits 2 on KeyError with this line
            raise KeyError(str(err)) from None

    bench_main(rest, resolve=resolve, prog="python -m audit.bench_setups",
               config_help=f"PROFILE:CLAIM-ID (e.g. smoke:sudoku-extreme/trm-mlp), {', '.join(PAPER_SETUPS)} "
                           "or a TrainConfig .yaml file; registry files or folders with --claims FILE_OR_DIR ...")


if __name__ == "__main__":
    main(sys.argv[1:])
