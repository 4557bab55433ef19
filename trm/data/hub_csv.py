"""The hub CSV layout of Sudoku-Extreme and Maze-Hard: read, validate, write.

`source,question,answer,rating`, one puzzle per row, never quoted (docs/data-formats.md §2.1, §3.1).
Reading streams the rows into flat byte arrays (the real Sudoku train file has 3.8M rows), then
checks the cells with numpy; the first bad row is reported with its row and line numbers.
Stand-in generators write the same layout, so real and generated data share one reader.
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from trm.data.encoding import MAZE_CHARSET
from trm.data.errors import DataError
from trm.data.sudoku_solver import Geometry

HEADER = ("source", "question", "answer", "rating")


@dataclass(frozen=True)
class HubTable:
    """The rows of one hub CSV file, as ASCII codes.

    questions, answers: (R, L) uint8 character codes, L = cells per grid; ratings: (R,) float64;
    rows, lines: (R,) int64 data-row number (from 1, header excluded) and line number of each row;
    sources: how many rows of the whole file came from each `source` value.
    """

    path: Path
    questions: np.ndarray
    answers: np.ndarray
    ratings: np.ndarray
    rows: np.ndarray
    lines: np.ndarray
    sources: dict

    def __len__(self) -> int:
        return len(self.ratings)

    def where(self, index: int) -> str:
        return f"row {int(self.rows[index])} (line {int(self.lines[index])})"

    def take(self, indices: np.ndarray) -> "HubTable":
        """The rows at `indices` (e.g. a subsample), keeping their row and line numbers for messages."""
        return replace(self, questions=self.questions[indices], answers=self.answers[indices],
                       ratings=self.ratings[indices], rows=self.rows[indices], lines=self.lines[indices])


def read_hub_csv(path: Path, cells: Optional[int] = None) -> HubTable:
    """Read a hub CSV; every question and answer must have `cells` characters (default: the first row's).

    Accepts what the hub and spreadsheet tools serve: a UTF-8 byte-order mark, CRLF line ends and
    blank lines at the end; a blank line between data rows is refused (a damaged or merged file).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "file not found")
    questions, answers = bytearray(), bytearray()
    ratings, lines, sources = [], [], Counter()
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise DataError(path, None, "empty file: expected the header source,question,answer,rating")
            if tuple(header) != HEADER:
                raise DataError(path, "line 1 (header)", f"expected columns {','.join(HEADER)}, got {','.join(header)!r}")
            blank_line = None  # the first blank line seen: allowed only if no data row follows it
            for row in reader:
                if not row:
                    blank_line = blank_line or reader.line_num
                    continue
                if blank_line is not None:
                    raise DataError(path, f"line {blank_line}", "blank line between data rows "
                                    "(only blank lines at the end are allowed)")
                where = f"row {len(ratings) + 1} (line {reader.line_num})"
                if len(row) != 4:
                    raise DataError(path, where, f"expected 4 columns ({','.join(HEADER)}), got {len(row)}"
                                    + (" (truncated file?)" if len(row) < 4 else ""))
                source, question, answer, rating = row
                cells = len(question) if cells is None else cells
                for field, text in (("question", question), ("answer", answer)):
                    if len(text) != cells:
                        raise DataError(path, f"{where} field {field}",
                                        f"expected {cells} characters, got {len(text)}")
                    if not text.isascii():
                        bad = next(ch for ch in text if not ch.isascii())
                        raise DataError(path, f"{where} field {field}", f"unknown character {bad!r}")
                ratings.append(_parse_rating(rating, path, where))
                questions += question.encode("ascii")
                answers += answer.encode("ascii")
                lines.append(reader.line_num)
                sources[source] += 1
        except csv.Error as err:
            raise DataError(path, f"line {reader.line_num}", f"not valid CSV: {err}") from None
        except UnicodeDecodeError:
            raise DataError(path, f"after line {reader.line_num}", "not UTF-8 text") from None
    if not ratings:
        raise DataError(path, None, "no data rows after the header")
    shape = (len(ratings), cells)
    return HubTable(path, np.frombuffer(bytes(questions), np.uint8).reshape(shape),
                    np.frombuffer(bytes(answers), np.uint8).reshape(shape),
                    np.asarray(ratings, dtype=np.float64), np.arange(1, len(ratings) + 1),
                    np.asarray(lines, dtype=np.int64), dict(sources))


def _parse_rating(text: str, path: Path, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(path, f"{where} field rating", f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise DataError(path, f"{where} field rating", f"expected a number >= 0, got {text!r}")
    return value


def write_hub_csv(path: Path, rows: Iterable[tuple[str, str, str, float]]) -> None:
    """Write (source, question, answer, rating) rows under the hub header, '\\n' line ends."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for source, question, answer, rating in rows:
            writer.writerow((source, question, answer, int(rating) if float(rating).is_integer() else rating))


def _first_bad_row(bad: np.ndarray) -> Optional[int]:
    rows = np.flatnonzero(bad)
    return int(rows[0]) if rows.size else None


def _raise_unknown_chars(table: HubTable, field: str, codes: np.ndarray, allowed: str) -> None:
    ok = np.zeros(256, dtype=bool)
    ok[[ord(ch) for ch in allowed]] = True
    row = _first_bad_row(~ok[codes].all(axis=1))
    if row is not None:
        col = int(np.flatnonzero(~ok[codes[row]])[0])
        raise DataError(table.path, f"{table.where(row)} field {field}",
                        f"unknown character {chr(codes[row, col])!r} at cell {col} (allowed: {allowed!r})")


def sudoku_digits(table: HubTable, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Checked Sudoku cells: (questions, answers), each (R, N*N) uint8 digits, 0 = blank.

    Blanks may be '.' or '0'; answers must be complete, obey the rules and agree with the givens.
    """
    n = geometry.side
    if table.questions.shape[1] != geometry.cells:
        raise DataError(table.path, "row 1 field question",
                        f"expected {geometry.cells} characters for a {n}x{n} Sudoku, got {table.questions.shape[1]}")
    digits = "".join(str(d) for d in range(1, n + 1))
    _raise_unknown_chars(table, "question", table.questions, "." + "0" + digits)
    _raise_unknown_chars(table, "answer", table.answers, digits)
    questions = np.where(table.questions == ord("."), 0, table.questions.astype(np.int16) - ord("0")).astype(np.uint8)
    answers = (table.answers - ord("0")).astype(np.uint8)
    row = _first_bad_row(((questions != 0) & (questions != answers)).any(axis=1))
    if row is not None:
        cell = int(np.flatnonzero((questions[row] != 0) & (questions[row] != answers[row]))[0])
        raise DataError(table.path, f"{table.where(row)} field answer",
                        f"disagrees with the given {questions[row, cell]} at cell {cell} (answer has {answers[row, cell]})")
    row = _first_bad_row(~_obeys_rules(answers, geometry))
    if row is not None:
        raise DataError(table.path, f"{table.where(row)} field answer",
                        f"breaks the Sudoku rules: {_first_rule_break(answers[row], geometry)}")
    return questions, answers


def _units(answers: np.ndarray, geometry: Geometry) -> dict[str, np.ndarray]:
    """(R, N, N) views: unit kind -> per row, per unit index, its N digits."""
    n, br, bc = geometry.side, geometry.box_rows, geometry.box_cols
    grids = answers.reshape(-1, n, n)
    boxes = grids.reshape(-1, n // br, br, n // bc, bc).transpose(0, 1, 3, 2, 4).reshape(-1, n, n)
    return {"row": grids, "column": grids.transpose(0, 2, 1), "box": boxes}


def _obeys_rules(answers: np.ndarray, geometry: Geometry) -> np.ndarray:
    wanted = np.arange(1, geometry.side + 1)
    return np.all([(np.sort(u, axis=2) == wanted).all(axis=(1, 2)) for u in _units(answers, geometry).values()], axis=0)


def _first_rule_break(answer: np.ndarray, geometry: Geometry) -> str:
    for kind, units in _units(answer[None], geometry).items():
        for index, unit in enumerate(units[0]):
            counts = np.bincount(unit, minlength=geometry.side + 1)
            repeated = np.flatnonzero(counts[1:] > 1)
            if repeated.size:
                return f"digit {repeated[0] + 1} appears {counts[repeated[0] + 1]} times in {kind} {index + 1}"
    return "unknown"


def maze_cells(table: HubTable, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked maze cells: (questions, answers), each (R, side*side) ASCII codes of '# SG' / '# SGo'.

    One S and one G per question; the answer equals the question except open cells marked 'o'.
    """
    if table.questions.shape[1] != side * side:
        found = table.questions.shape[1]
        guess = f" ({math.isqrt(found)}x{math.isqrt(found)})" if math.isqrt(found) ** 2 == found else ""
        raise DataError(table.path, "row 1 field question",
                        f"expected {side * side} characters for a {side}x{side} maze, got {found}{guess}")
    _raise_unknown_chars(table, "question", table.questions, MAZE_CHARSET[:4])
    _raise_unknown_chars(table, "answer", table.answers, MAZE_CHARSET)
    for letter in "SG":
        counts = (table.questions == ord(letter)).sum(axis=1)
        row = _first_bad_row(counts != 1)
        if row is not None:
            raise DataError(table.path, f"{table.where(row)} field question",
                            f"expected exactly one {letter!r}, got {int(counts[row])}")
    marked = table.answers == ord("o")
    differs = (table.answers != table.questions) & ~(marked & (table.questions == ord(" ")))
    row = _first_bad_row(differs.any(axis=1))
    if row is not None:
        cell = int(np.flatnonzero(differs[row])[0])
        raise DataError(table.path, f"{table.where(row)} field answer",
                        f"cell {cell} is {chr(table.answers[row, cell])!r} but the question has "
                        f"{chr(table.questions[row, cell])!r} (only open cells may become 'o')")
    return table.questions, table.answers
