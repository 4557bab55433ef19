"""External results: numbers someone else obtained for our claims, kept in `runs/external/*.yaml`.

One file is one result set (a paper, a report, a colleague's cluster runs); its id is the file
name without `.yaml`. The file says where the numbers come from, whether they follow the paper's
setup (`comparable`) and how they deviate from it, and per claim gives either per-seed values or a
published summary (mean, a ± and what the ± is). Example (the shipped file is the full one):

    format_version: 1
    source: {title: "...", authors: [], link: null, date: "2025", venue: alphaXiv, verified: false}
    comparable: true            # follows the paper's recipe except the deviations below
    hardware: 8x NVIDIA A100
    deviations: ["global batch 1536 instead of 768"]
    pm_decimals: 2              # the ± values are published to two decimals
    results:
      - claim: sudoku-extreme/trm-att
        label: 50k epochs       # needed when a set has several results for one claim
        mean: 69.69             # percent
        pm: 0.14
        pm_kind: unknown        # sd | se | ci95 | wilson95 | unknown
        n_seeds: null           # runs behind the mean, when stated
        test_size: 422786       # items the metric was computed over, when stated
      - claim: maze-hard/trm-att
        values: [84.1, 83.2]    # per-seed values instead of a summary
        seeds: [0, 1]
        counts: [[841, 1000], [832, 1000]]   # optional (correct, total) per value

`trm-audit import` validates a file and copies it here atomically (`plan_import` says what it would
write, for `--dry-run`); `--list` and `--remove ID` show and delete imported sets (`list_imported`,
`remove_imported`); the aggregator reads them all.
Every problem is an InputError naming the file, the result (claim and label) and the field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

from audit.errors import InputError, RecordExistsError
from audit.records import write_bytes_atomic
from audit.yamlio import read_yaml, yaml_files_in
from trm.schema import ConfigError, at_most, from_dict, non_negative, positive, spec

FORMAT_VERSION = 1
PM_KINDS = ("sd", "se", "ci95", "wilson95", "unknown")
SET_ID = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


def _percent(value: float) -> Optional[str]:
    return None if 0 <= value <= 100 else "expected a percentage between 0 and 100"


def _percents(values: tuple) -> Optional[str]:
    bad = [v for v in values if not 0 <= v <= 100]
    return f"expected percentages between 0 and 100, found {bad[0]!r}" if bad else None


def _seeds(seeds: tuple) -> Optional[str]:
    bad = [s for s in seeds if s < 0]
    return f"expected seeds >= 0, found {bad[0]!r}" if bad else None


def _spread(value: float) -> Optional[str]:
    """A ± in percentage points: a spread of percentages cannot exceed the 100 pp of the scale."""
    return None if 0 <= value <= 100 else "expected a number of percentage points between 0 and 100"


def _non_empty(value: str) -> Optional[str]:
    return None if value.strip() else "expected a non-empty string"


@dataclass(frozen=True)
class ExternalSource:
    """Who published the numbers, and whether we could check the citation."""

    title: str = spec(check=_non_empty, doc="title of the paper or report")
    authors: tuple[str, ...] = spec((), doc="authors, as published (empty when not verified)")
    link: Optional[str] = spec(None, doc="URL or arXiv/alphaXiv id")
    date: Optional[str] = spec(None, doc="publication date or year")
    venue: Optional[str] = spec(None, doc="where it appeared (journal, alphaXiv, blog)")
    verified: bool = spec(False, doc="whether title, authors and link were checked against the publication")
    note: str = spec("", doc="anything a reader should know about the citation")


@dataclass(frozen=True)
class ExternalResult:
    """One claim's numbers in a result set: per-seed values, or a published summary."""

    claim: str = spec(check=_non_empty, doc="the claim id these numbers are for")
    label: Optional[str] = spec(None, doc="tells several results for one claim apart, e.g. '50k epochs'")
    values: Optional[tuple[float, ...]] = spec(None, check=_percents, doc="per-seed values, percent")
    seeds: Optional[tuple[int, ...]] = spec(None, check=_seeds, doc="the seed of each value, when known")
    counts: Optional[tuple[tuple[float, ...], ...]] = spec(None, doc="(correct, total) of each value")
    mean: Optional[float] = spec(None, check=_percent, doc="published mean, percent (summary form)")
    pm: Optional[float] = spec(None, check=_spread, doc="the published ± in percentage points")
    pm_kind: Literal["sd", "se", "ci95", "wilson95", "unknown"] = spec(
        "unknown", doc="what the ± is: seed SD, SE of the mean, Student-t 95% half-width, "
        "single-run Wilson 95% half-width, or not stated")
    n_seeds: Optional[int] = spec(None, check=positive, doc="runs behind the mean, when stated")
    test_size: Optional[int] = spec(None, check=positive, doc="test items (tasks for ARC) behind each evaluation")
    deviations: tuple[str, ...] = spec((), doc="deviations of this result beyond the set's")
    note: str = spec("", doc="anything a reader should know about this number")

    def validate(self) -> None:
        if (self.values is None) == (self.mean is None):
            raise ConfigError("values", "give either per-seed 'values' or a summary 'mean', not both or neither")
        if self.values is not None:
            self._validate_values()
        elif self.pm is None and self.pm_kind != "unknown":
            raise ConfigError("pm", f"pm_kind is {self.pm_kind!r} but no 'pm' is given")
        elif self.pm_kind == "wilson95" and self.n_seeds not in (None, 1):
            raise ConfigError("n_seeds", f"a Wilson half-width describes one evaluation, got n_seeds {self.n_seeds}")
        elif self.pm_kind == "ci95" and self.n_seeds == 1:
            raise ConfigError("n_seeds", "a Student-t interval needs at least 2 seeds, got 1")

    def _validate_values(self) -> None:
        if not self.values:
            raise ConfigError("values", "expected at least one value")
        for name in ("pm", "n_seeds"):
            if getattr(self, name) is not None:
                raise ConfigError(name, "only for a summary 'mean'; per-seed values carry their own spread")
        n = len(self.values)
        if self.seeds is not None and (len(self.seeds) != n or len(set(self.seeds)) != n):
            raise ConfigError("seeds", f"expected {n} distinct seeds, one per value, got {list(self.seeds)}")
        if self.counts is not None:
            if len(self.counts) != n:
                raise ConfigError("counts", f"expected {n} (correct, total) pairs, one per value")
            for i, pair in enumerate(self.counts):
                if len(pair) != 2 or not 0 <= pair[0] <= pair[1] or pair[1] <= 0:
                    raise ConfigError(f"counts[{i}]", f"expected [correct, total] with 0 <= correct <= total, got {list(pair)}")
                if self.test_size is not None and pair[1] != self.test_size:
                    raise ConfigError(f"counts[{i}]", f"total {pair[1]} is not test_size {self.test_size}")
                if abs(100 * pair[0] / pair[1] - self.values[i]) > 0.01:
                    raise ConfigError(f"counts[{i}]", f"{pair[0]}/{pair[1]} is not the value {self.values[i]}")

    @property
    def display(self) -> str:
        """The claim and label, as error messages name a result."""
        return f"{self.claim} ({self.label})" if self.label else self.claim


@dataclass(frozen=True)
class ExternalResultSet:
    """One file of runs/external/: a source, its setup, and its results per claim."""

    source: ExternalSource = spec(doc="the publication")
    comparable: bool = spec(doc="follows the paper's setup except the stated deviations (judged against claims)")
    results: tuple[ExternalResult, ...] = spec(doc="the numbers, per claim")
    format_version: int = spec(FORMAT_VERSION, doc="schema version of this file")
    hardware: Optional[str] = spec(None, doc="hardware the numbers were obtained on")
    deviations: tuple[str, ...] = spec((), doc="deviations from the paper's recipe, for every result")
    pm_decimals: int = spec(2, check=at_most(10, non_negative), doc="decimals the ± values are published with (their rounding)")
    id: str = field(default="", metadata={"internal": True})
    file: str = field(default="", compare=False, metadata={"internal": True})

    def source_name(self, result: ExternalResult) -> str:
        """The source column of the report: the set id, plus the label when there is one."""
        return f"{self.id} ({result.label})" if result.label else self.id

    @property
    def rounding(self) -> float:
        """The largest rounding error of a published ± (0.005 for two decimals)."""
        return 0.5 * 10.0 ** -self.pm_decimals


def load_external(path: Path | str, claim_ids: Optional[Iterable[str]] = None) -> ExternalResultSet:
    """Read and validate one result-set file; claim ids are checked when `claim_ids` is given.

    Raises InputError '<file>: <claim (label)>: <field>: <problem>'.
    """
    path = Path(path)
    set_id = path.name.removesuffix(".yaml")
    if path.suffix != ".yaml" or not SET_ID.match(set_id):
        raise InputError(f"{path}: file name: expected '<id>.yaml' with a lower-case id (letters, digits, '-', '_', '.')")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with source, comparable and results, got {type(data).__name__}")
    results_raw = data.get("results")
    if isinstance(results_raw, list):
        for index, body in enumerate(results_raw):
            _parse_result(path, index, body)  # first, so that an error names the result, not results[i]
    try:
        result_set = from_dict(ExternalResultSet, data)
    except ConfigError as err:
        raise InputError(f"{path}: {err}") from None
    if result_set.format_version != FORMAT_VERSION:
        raise InputError(f"{path}: format_version: expected {FORMAT_VERSION}, got {result_set.format_version}")
    if not result_set.results:
        raise InputError(f"{path}: results: expected at least one result")
    _check_results(path, result_set, None if claim_ids is None else set(claim_ids))
    return replace(result_set, id=set_id, file=str(path))


def load_externals(directory: Path | str, claim_ids: Optional[Iterable[str]] = None) -> tuple[ExternalResultSet, ...]:
    """Every `*.yaml` result set in `directory` (e.g. runs/external), sorted by id; none if it is absent."""
    directory = Path(directory)
    if not directory.is_dir():
        return ()
    ids = None if claim_ids is None else tuple(claim_ids)
    return tuple(load_external(p, ids) for p in yaml_files_in(directory, "external results"))


@dataclass(frozen=True)
class ImportPlan:
    """What importing a result-set file does: `action` 'new' (no file of that name yet), 'unchanged'
    (the same bytes are there: nothing to write) or 'replace' (a different file of that name, and
    replacing was asked for); `result_set` is the file validated, `target` where it goes."""

    result_set: ExternalResultSet
    target: Path
    action: Literal["new", "unchanged", "replace"]


def plan_import(path: Path | str, external_dir: Path | str, *, claim_ids: Optional[Iterable[str]] = None,
                replace_existing: bool = False) -> ImportPlan:
    """Validate a result-set file and say what importing it into `external_dir` would do; writes nothing.

    A different file of the same name raises RecordExistsError unless `replace_existing`.
    """
    source = Path(path)
    result_set = load_external(source, claim_ids)
    target = Path(external_dir) / source.name
    action = "new"
    if target.exists():
        if target.read_bytes() == source.read_bytes():
            action = "unchanged"
        elif not replace_existing:
            raise RecordExistsError(f"{target}: a different result set of this name is already imported "
                                    "(use --replace to overwrite it)")
        else:
            action = "replace"
    return ImportPlan(result_set, target, action)


def import_external(path: Path | str, external_dir: Path | str, *,
                    claim_ids: Optional[Iterable[str]] = None, replace_existing: bool = False) -> Path:
    """Validate a result-set file, then copy it byte for byte into `external_dir` atomically.

    Importing an identical file again is a no-op; a different file of the same name raises
    RecordExistsError unless `replace_existing`. Returns the destination path.
    """
    plan = plan_import(path, external_dir, claim_ids=claim_ids, replace_existing=replace_existing)
    if plan.action != "unchanged":
        write_bytes_atomic(plan.target, Path(path).read_bytes())
    return plan.target


@dataclass(frozen=True)
class ImportedSet:
    """One file of runs/external/ as `import --list` shows it: the set, or why it does not load."""

    id: str
    file: Path
    result_set: Optional[ExternalResultSet]
    problem: Optional[str]


def list_imported(external_dir: Path | str, claim_ids: Optional[Iterable[str]] = None) -> list[ImportedSet]:
    """Every `*.yaml` in `external_dir`, sorted by id, each validated on its own: one bad file is listed
    with its problem (the report would refuse it) instead of hiding the others. None if the directory
    is absent; an entry that is not a result-set file raises InputError, as the report does."""
    directory = Path(external_dir)
    if not directory.is_dir():
        return []
    ids = None if claim_ids is None else tuple(claim_ids)
    listed = []
    for path in yaml_files_in(directory, "external results"):
        try:
            listed.append(ImportedSet(path.name.removesuffix(".yaml"), path, load_external(path, ids), None))
        except InputError as err:
            listed.append(ImportedSet(path.name.removesuffix(".yaml"), path, None, str(err)))
    return listed


def imported_file(external_dir: Path | str, set_id: str) -> Path:
    """The file of the imported result set `set_id` (its name without .yaml) in `external_dir`.

    Raises InputError naming the id and the sets there when there is no such set: an id is never a
    path, so nothing outside `external_dir` can be named.
    """
    directory = Path(external_dir)
    known = [item.name.removesuffix(".yaml") for item in sorted(directory.glob("*.yaml"))] if directory.is_dir() else []
    if not SET_ID.match(set_id) or set_id not in known:
        raise InputError(f"--remove: no imported result set {set_id!r} in {directory} "
                         f"(known: {', '.join(known) or 'none'})")
    return directory / f"{set_id}.yaml"


def remove_imported(external_dir: Path | str, set_id: str, *, dry_run: bool = False) -> ImportedSet:
    """Delete the imported result set `set_id` from `external_dir` (unless `dry_run`) and return what it
    was (its source and results, or its problem when it did not load). Unknown ids raise InputError."""
    path = imported_file(external_dir, set_id)
    try:
        removed = ImportedSet(set_id, path, load_external(path), None)
    except InputError as err:
        removed = ImportedSet(set_id, path, None, str(err))
    if not dry_run:
        path.unlink()
    return removed


def set_summary(result_set: ExternalResultSet) -> dict:
    """A result set as plain data (what `import` prints with --json): id, title, comparable and per
    result its claim, its source name in the report and its form ('values', or 'mean' with its ± kind)."""
    return {"id": result_set.id, "title": result_set.source.title, "comparable": result_set.comparable,
            "results": [{"claim": r.claim, "source": result_set.source_name(r),
                         "form": "values" if r.values is not None else "mean",
                         "pm_kind": None if r.values is not None else r.pm_kind} for r in result_set.results]}


def _parse_result(path: Path, index: int, body: Any) -> ExternalResult:
    try:
        return from_dict(ExternalResult, body)
    except ConfigError as err:
        raise InputError(f"{path}: {_result_label(body, index)}: {err}") from None


def _result_label(body: Any, index: int) -> str:
    """'sudoku-extreme/trm-att (50k epochs)' when the entry names its claim, else 'results[3]'."""
    if isinstance(body, dict) and isinstance(body.get("claim"), str) and body["claim"]:
        label = body.get("label")
        return f"{body['claim']} ({label})" if isinstance(label, str) and label else body["claim"]
    return f"results[{index}]"


def _check_results(path: Path, result_set: ExternalResultSet, claim_ids: Optional[set[str]]) -> None:
    seen: dict[str, set[Optional[str]]] = {}
    for result in result_set.results:
        if claim_ids is not None and result.claim not in claim_ids:
            raise InputError(f"{path}: {result.display}: claim: unknown claim {result.claim!r}")
        labels = seen.setdefault(result.claim, set())
        if result.label in labels or (labels and (result.label is None or None in labels)):
            raise InputError(f"{path}: {result.display}: label: several results for one claim need distinct labels")
        labels.add(result.label)
