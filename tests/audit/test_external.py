"""audit.external and `trm-audit import`: the result-set schema, the shipped alphaXiv file, bad input."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import InputError, RecordExistsError
from audit.external import import_external, load_external, load_externals
from audit.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
SHIPPED = ROOT / "runs" / "external" / "alphaxiv-2025.yaml"

GOOD = """\
format_version: 1
source: {title: "Toy reproduction", authors: [A. Person], link: "https://example.org/x", date: "2025"}
comparable: true
hardware: 1 GPU
deviations: ["smaller batch"]
results:
  - claim: toy/alpha
    label: long
    values: [88.0, 90.0]
    seeds: [0, 1]
    counts: [[88, 100], [90, 100]]
  - claim: toy/alpha
    label: short
    mean: 85.0
    pm: 1.5
    pm_kind: sd
    n_seeds: 3
  - claim: toy/beta
    mean: 70.0
    pm: 0.5
    pm_kind: unknown
    test_size: 1000
"""


def claim_ids():
    return [c.id for c in load_registry([DATA / "two_claims.yaml"]).claims]


def write(tmp_path, text, name="toy-repro.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_loads(tmp_path):
    result_set = load_external(write(tmp_path, GOOD), claim_ids())
    assert result_set.id == "toy-repro" and result_set.comparable is True
    assert result_set.source.authors == ("A. Person",) and result_set.deviations == ("smaller batch",)
    long, short, beta = result_set.results
    assert long.values == (88.0, 90.0) and long.counts == ((88.0, 100.0), (90.0, 100.0))
    assert (short.mean, short.pm, short.pm_kind, short.n_seeds) == (85.0, 1.5, "sd", 3)
    assert [result_set.source_name(r) for r in result_set.results] == [
        "toy-repro (long)", "toy-repro (short)", "toy-repro"]
    assert beta.test_size == 1000 and result_set.rounding == pytest.approx(0.005)


def test_shipped_alphaxiv_file_holds_every_achieved_figure():
    registry = load_registry([ROOT / "claims"])
    result_set = load_external(SHIPPED, [c.id for c in registry.claims])
    figures = {(r.claim, r.label): (r.mean, r.pm, r.test_size) for r in result_set.results}
    assert figures == {
        ("maze-hard/trm-att", None): (83.67, 2.28, 1000),
        ("arc-agi-1/trm-att", None): (43.00, 0.16, 400),
        ("arc-agi-1/trm-att-h3l6", None): (52.75, 3.09, 400),
        ("sudoku-extreme/trm-att", "50k epochs"): (69.69, 0.14, 422_786),
        ("sudoku-extreme/trm-att", "60k epochs"): (73.66, 0.13, 422_786),
        ("sudoku-extreme/trm-mlp", "50k epochs"): (79.37, 0.12, 422_786),
        ("sudoku-extreme/trm-mlp", "60k epochs"): (75.57, 0.13, 422_786),
    }
    assert all(r.pm_kind == "unknown" and r.n_seeds is None for r in result_set.results)
    assert result_set.comparable is True and result_set.hardware == "8x NVIDIA A100"
    deviations = " ".join(result_set.deviations)
    assert "1536" in deviations and "2e-4" in deviations and "4,000" in deviations and "A100" in deviations
    assert result_set.source.venue == "alphaXiv" and result_set.source.date == "2025"
    assert result_set.source.verified is False and "verified offline" in result_set.source.note
    assert load_externals(SHIPPED.parent) == (result_set,)


BAD = [
    ("pm_kind: sd\n", "pm_kind: std\n", "toy/alpha (short): pm_kind: expected one of"),
    ("    mean: 85.0\n", "    mean: 185.0\n", "toy/alpha (short): mean: expected a percentage"),
    ("    mean: 70.0\n", "    mean: 70.0\n    values: [70.0]\n", "toy/beta: values: give either"),
    ("    test_size: 1000\n", "    test_size: 1000\n    colour: red\n", "toy/beta: colour: unknown key"),
    ("comparable: true\n", "", "comparable: missing required key"),
    ("label: short\n", "label: long\n", "toy/alpha (long): label: several results for one claim"),
    ("  - claim: toy/beta\n", "  - claim: toy/gamma\n", "toy/gamma: claim: unknown claim"),
    ("[90, 100]]", "[91, 100]]", "toy/alpha (long): counts[1]: 91"),
    ("seeds: [0, 1]", "seeds: [0, 0]", "toy/alpha (long): seeds: expected 2 distinct seeds"),
    ("pm_kind: sd\n    n_seeds: 3", "pm_kind: wilson95\n    n_seeds: 3", "toy/alpha (short): n_seeds: a Wilson"),
    ("    pm: 1.5\n", "", "toy/alpha (short): pm: pm_kind is 'sd' but no 'pm'"),
    ("format_version: 1", "format_version: 2", "format_version: expected 1, got 2"),
    ("title: \"Toy reproduction\"", "title: 7", "source.title: expected a string"),
    ("  - claim: toy/alpha\n    label: long", "  - label: long", "results[0]: claim: missing required key"),
    ("deviations: [\"smaller batch\"]", "deviations: [\"smaller batch\"", "line"),
]


@pytest.mark.parametrize("old, new, message", BAD)
def test_malformed_file_names_file_entry_and_field(tmp_path, old, new, message):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        load_external(path, claim_ids())
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_empty_results_and_bad_names(tmp_path):
    with pytest.raises(InputError, match="results: expected at least one result"):
        load_external(write(tmp_path, "source: {title: x}\ncomparable: false\nresults: []\n"))
    with pytest.raises(InputError, match="file name"):
        load_external(write(tmp_path, GOOD, name="Toy Repro.yaml"))
    with pytest.raises(InputError, match="expected a mapping"):
        load_external(write(tmp_path, "- 1\n- 2\n"))
    assert load_externals(tmp_path / "absent") == ()


def test_import_copies_atomically_and_is_idempotent(tmp_path):
    source = write(tmp_path, GOOD)
    target_dir = tmp_path / "runs" / "external"
    target = import_external(source, target_dir, claim_ids=claim_ids())
    assert target == target_dir / "toy-repro.yaml" and target.read_bytes() == source.read_bytes()
    assert import_external(source, target_dir, claim_ids=claim_ids()) == target  # same bytes: no-op
    (tmp_path / "other").mkdir()
    changed = write(tmp_path / "other", GOOD.replace("85.0", "86.0"))
    with pytest.raises(RecordExistsError, match="already imported"):
        import_external(changed, target_dir)
    import_external(changed, target_dir, replace_existing=True)
    assert "86.0" in target.read_text()
    assert sorted(p.name for p in target_dir.iterdir()) == ["toy-repro.yaml"]


def cli_args(tmp_path, *extra):
    return ["import", *extra, "--claims", str(DATA / "two_claims.yaml"), "--runs-dir", str(tmp_path / "runs")]


def test_import_command(tmp_path):
    source = write(tmp_path, GOOD)
    result = CliRunner().invoke(cli, cli_args(tmp_path, str(source)))
    assert result.exit_code == 0, result.output
    assert "toy-repro (short)" in result.output and "comparable: true" in result.output
    assert (tmp_path / "runs" / "external" / "toy-repro.yaml").read_bytes() == source.read_bytes()


def test_import_command_rejects_bad_input_with_one_line(tmp_path):
    source = write(tmp_path, GOOD.replace("pm_kind: sd", "pm_kind: std"))
    result = CliRunner().invoke(cli, cli_args(tmp_path, str(source)))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(source) in lines[0] and "toy/alpha (short): pm_kind" in lines[0]
    assert not (tmp_path / "runs" / "external").exists()
    missing = CliRunner().invoke(cli, cli_args(tmp_path, str(tmp_path / "nope.yaml")))
    assert missing.exit_code == 2 and "cannot read" in missing.output
