"""Seed lists as people write them: `0-4`, `0,2,5-7`, or a YAML list `[0, 1, 2]`; one syntax for the
claims' declared seeds (audit.registry) and `trm-audit run --seeds` (audit.cli).

Only ASCII digits count: Python's `str.isdigit` accepts '²' and '٣', which `int` then refuses or
reads as 3; a seed list must mean the same thing to every reader, so both are refused here.
"""
from __future__ import annotations

import re
from typing import Iterable

from trm.schema import ConfigError

MAX_SEEDS = 10_000  # far more than any audit trains; a typo like 0-1000000000 must not hang the planner
MAX_SEED = 2**32 - 1  # the run seed feeds 32-bit generator seeds (trm.seeding); larger ones name nothing new
_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)
SYNTAX = "seeds as non-negative integers and ranges separated by commas, e.g. 0-4 or 0,2,5-7"


def parse_seed_list(text: str, field: str) -> tuple[int, ...]:
    """The seeds `text` names, in the order written: '0-4' -> (0, 1, 2, 3, 4), '0,2,5-7' -> (0, 2, 5, 6, 7).

    Ranges are inclusive. Raises ConfigError at `field` (e.g. '--seeds' or 'seeds') for anything
    else: an empty item, a reversed range, a seed listed twice, more than MAX_SEEDS seeds.
    """
    seeds: list[int] = []
    for item in text.split(","):
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise ConfigError(field, f"expected {SYNTAX}, got {text!r}")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise ConfigError(field, f"range {item.strip()!r} runs backwards (write {high}-{low})")
        if len(seeds) + high - low + 1 > MAX_SEEDS:  # counted before expanding: 0-1000000000 stops here
            raise ConfigError(field, f"at most {MAX_SEEDS} seeds, got more in {text!r}")
        seeds.extend(range(low, high + 1))
    problem = seed_list_problem(seeds)
    if problem:
        raise ConfigError(field, f"{problem} in {text!r}")
    return tuple(seeds)


def seed_list_problem(seeds: Iterable[int]) -> str | None:
    """Why a list of integer seeds cannot be a run's seeds (None when it can): empty, negative, too
    large, repeated or too many. Used as the registry's field check too."""
    seeds = list(seeds)
    if not seeds:
        return "expected at least one seed"
    if len(seeds) > MAX_SEEDS:
        return f"at most {MAX_SEEDS} seeds"
    bad = next((s for s in seeds if not 0 <= s <= MAX_SEED), None)
    if bad is not None:
        return f"seed {bad} is outside 0..{MAX_SEED}"
    seen: set[int] = set()
    for seed in seeds:
        if seed in seen:
            return f"seed {seed} is listed twice"
        seen.add(seed)
    return None


def format_seeds(seeds: Iterable[int]) -> str:
    """Seeds for people, in a form parse_seed_list reads back: runs of four or more as a range.

    (0, 1, 2) -> '0, 1, 2'; (0, 1, 2, 3, 4) -> '0-4'; (0, 2, 5, 6, 7, 8) -> '0, 2, 5-8'.
    """
    seeds = list(seeds)
    parts, start = [], 0
    while start < len(seeds):
        end = start
        while end + 1 < len(seeds) and seeds[end + 1] == seeds[end] + 1:
            end += 1
        if end - start >= 3:
            parts.append(f"{seeds[start]}-{seeds[end]}")
        else:
            parts.extend(str(s) for s in seeds[start:end + 1])
        start = end + 1
    return ", ".join(parts)
