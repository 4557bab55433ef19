"""`trm-audit data build` and `data show`, through click's runner."""
import json

from click.testing import CliRunner

from audit.cli import cli


def test_build_then_show_a_small_standin(tmp_path):
    out = tmp_path / "sudoku"
    runner = CliRunner()
    built = runner.invoke(cli, ["data", "build", "sudoku-extreme", "--out", str(out), "--size", "5", "--test-size", "3",
                                "--grid-size", "4", "--num-aug", "2", "--seed", "3"])
    assert built.exit_code == 0, built.output
    assert "train: 5 groups, 15 puzzles, 15 examples" in built.output
    assert "deviations from the paper's data recorded in build.json" in built.output
    info = json.loads((out / "build.json").read_text())
    assert info["seed"] == 3 and info["config"]["grid_size"] == 4
    shown = runner.invoke(cli, ["data", "show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "seq_len 16, vocab_size 6" in shown.output and "(verified)" in shown.output
    assert "test example 0, input | label:" in shown.output
    assert shown.output.rstrip().splitlines()[-1].count("|") == 1  # a rendered grid row
    again = runner.invoke(cli, ["data", "build", "sudoku-extreme", "--out", str(out), "--size", "5"])
    assert again.exit_code == 2 and "already exists" in again.output


def test_maze_build_and_bad_source(tmp_path):
    runner = CliRunner()
    built = runner.invoke(cli, ["data", "build", "maze-hard", "--out", str(tmp_path / "m"), "--size", "3",
                                "--grid-size", "9", "--dihedral-aug"])
    assert built.exit_code == 0, built.output
    assert "train: 3 groups, 24 puzzles" in built.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(cli, ["data", "build", "maze-hard", "--out", str(tmp_path / "x"), "--source", str(empty)])
    assert bad.exit_code == 2
    assert bad.output.strip() == f"Error: {empty}: expected train.csv and test.csv (hub layout: source,question,answer,rating)"


def test_show_reports_a_corrupted_directory(tmp_path):
    runner = CliRunner()
    out = tmp_path / "s"
    assert runner.invoke(cli, ["data", "build", "sudoku-extreme", "--out", str(out), "--size", "2",
                               "--grid-size", "4", "--num-aug", "0"]).exit_code == 0
    (out / "test" / "dataset.json").write_text((out / "test" / "dataset.json").read_text().replace("16", "17"))
    shown = runner.invoke(cli, ["data", "show", str(out)])
    assert shown.exit_code == 2 and "content_hash: the data files changed since the build" in shown.output
