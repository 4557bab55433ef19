"""Issue 16, the input classes that are not a refused command: what must now be accepted (hub CSVs
as the hub serves them), ARC task files refused where first read, plot names that never collide,
and record files readable as the umask allows."""
from __future__ import annotations

import json
import os
import stat

import pytest

from audit.figures import file_stem
from audit.records import write_bytes_atomic
from trm.data.arc_sources import read_kaggle_subset
from trm.errors import DataError
from trm.data.hub_csv import read_hub_csv

HEADER = "source,question,answer,rating\n"
ROWS = "a,.......4.13.2...,1423321441322341,0\nb,2.....1...4.3...,2134431212433421,0\n"


@pytest.mark.parametrize("raw", [
    ("\ufeff" + HEADER + ROWS).encode("utf-8"),  # byte-order mark
    (HEADER + ROWS + "\n\n").encode("utf-8"),  # trailing blank lines
    ("\ufeff" + HEADER + ROWS).replace("\n", "\r\n").encode("utf-8") + b"\r\n",  # BOM, CRLF and a blank line
], ids=["bom", "trailing-blank-lines", "bom-crlf-blank"])
def test_hub_csv_as_served_is_read(tmp_path, raw):
    path = tmp_path / "train.csv"
    path.write_bytes(raw)
    table = read_hub_csv(path, 16)
    assert len(table) == 2 and table.lines.tolist() == [2, 3]


def test_hub_csv_blank_line_between_rows_is_named(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(HEADER + ROWS.replace("\nb,", "\n\nb,"))
    with pytest.raises(DataError, match=r"train.csv: line 3: blank line between data rows"):
        read_hub_csv(path, 16)


PAIR = {"input": [[1]], "output": [[2]]}


@pytest.mark.parametrize("task, where", [
    ({"train": [PAIR], "test": []}, "task t1 test: expected at least one test pair"),
    ({"train": [], "test": [{"input": [[1]]}]}, "task t1 train: expected at least one demonstration pair"),
    ({"train": [PAIR]}, "task t1: expected an object with 'train' and 'test'"),
    ({"train": [PAIR], "test": {"input": [[1]]}}, "task t1 test: expected a list of pairs"),
])
def test_arc_task_lists_are_checked_where_read(tmp_path, task, where):
    (tmp_path / "x_training_challenges.json").write_text(json.dumps({"t1": task}))
    with pytest.raises(DataError, match="x_training_challenges.json: " + where):
        read_kaggle_subset(tmp_path, "training", need_solutions=False)


@pytest.mark.parametrize("texts", [
    ("adv/tiny-mlp", "adv--tiny-mlp"),  # a claim id with '/' and one with '--'
    ("Toy Sudoku", "toy-sudoku", "toy sudoku", "TOY_SUDOKU".lower()),  # case and spaces
    ("судоку", "數獨", "數獨!", "-"),  # non-ASCII benchmarks all became '-'
], ids=["slash-vs-dashes", "case-and-spaces", "non-ascii"])
def test_plot_names_never_collide(texts):
    stems = [file_stem(t) for t in texts]
    assert len(set(stems)) == len(stems), stems
    assert all(s.isascii() and "/" not in s for s in stems)


def test_plain_plot_names_keep_their_committed_stems():
    assert file_stem("arc-agi-1/trm-att") == "arc-agi-1--trm-att"
    assert file_stem("sudoku-extreme") == "sudoku-extreme"
    assert "~" in file_stem("adv--tiny-mlp")  # only a name that would collide is changed


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "run.json", b"{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == mode
    assert (tmp_path / "run.json").read_bytes() == b"{}\n"


@pytest.mark.parametrize("args, option", [
    (["--threads", "0"], "'--threads'"), (["--threads", "²"], "'--threads'"), (["--seed", "-3"], "'--seed'"),
    (["--seed", str(2**64)], "'--seed'"),
])
def test_trainer_cli_numeric_options_are_one_line(tmp_path, args, option):
    from click.testing import CliRunner

    from trm.__main__ import main

    (tmp_path / "config.yaml").write_text("model: {}\n")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / "run"), *args])
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2 and len(errors) == 1 and option in errors[0], result.output
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_checkpoints_follow_the_umask(tmp_path, umask, mode):
    """A checkpoint (written through mkstemp, 0600) gets the permissions open() would give."""
    from trm.checkpoint import load_checkpoint, save_checkpoint

    previous = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "checkpoint", {"step": 3})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert load_checkpoint(tmp_path / "checkpoint")["step"] == 3
