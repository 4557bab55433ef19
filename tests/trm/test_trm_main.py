"""`python -m trm`: bad input exits 2; eval-official scores an official checkpoint; bench is trm.bench."""
import json
from pathlib import Path

import numpy as np
import torch
import yaml
from click.testing import CliRunner

from trm.__main__ import main
from trm.official import expected_file, model_config_from_official
from trm.schema import to_dict

DATA = Path(__file__).parents[1] / "data"
FIXTURE = DATA / "official" / "trm_mlp_tiny"


def test_bad_config_exits_2_naming_file_and_field(tmp_path):
    body = yaml.safe_load((DATA / "trm_tiny_train.yaml").read_text())
    body["train"]["lr"] = -1
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(body))
    out = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert out.exit_code == 2
    assert "bad.yaml" in out.output and "train.lr" in out.output
    assert "Traceback" not in out.output


def test_duplicate_key_in_a_config_exits_2_naming_file_and_line(tmp_path):
    config = tmp_path / "twice.yaml"
    config.write_text((DATA / "trm_tiny_train.yaml").read_text() + "seed: 1\n")  # a second `seed:`, line 12
    out = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert out.exit_code == 2
    assert f"{config}: line 12: duplicate key 'seed'" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "run").exists()


def _processed_from_fixture(root: Path) -> None:
    """The fixture's batch as a processed split (label 0 and -100 both become 'ignored')."""
    from trm.data.processed import DatasetMeta, ProcessedDataset, SplitArrays, write_processed

    batch = torch.load(FIXTURE / "batch.pt", weights_only=True)
    rows = batch["inputs"].shape[0]
    arrays = SplitArrays(inputs=batch["inputs"].numpy().astype(np.uint8),
                         labels=batch["labels"].clamp_min(0).numpy().astype(np.uint8),
                         puzzle_identifiers=batch["puzzle_identifiers"].numpy().astype(np.int32),
                         puzzle_indices=np.arange(rows + 1, dtype=np.int32),
                         group_indices=np.arange(rows + 1, dtype=np.int32))
    meta = DatasetMeta(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=11, seq_len=36,
                       num_puzzle_identifiers=5, total_groups=rows, mean_puzzle_examples=1.0, total_puzzles=rows,
                       sets=("all",))
    write_processed(ProcessedDataset(splits={"train": (meta, arrays), "test": (meta, arrays)},
                                     identifiers=["<blank>", "a", "b", "c", "d"], info={}), root)


def test_eval_official_reproduces_the_official_predictions(tmp_path):
    fixture = json.loads((FIXTURE / "config.json").read_text())
    model_cfg = model_config_from_official({**fixture["resolved_config"], "model_class": fixture["model_class"]})
    _processed_from_fixture(tmp_path / "processed")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "model": to_dict(model_cfg),
        "data": {"task": "sudoku", "source": "processed", "path": str(tmp_path / "processed")},
        "train": {"global_batch_size": 4, "epochs": 1, "eval_interval": 1}}))
    out_json = tmp_path / "eval.json"
    out = CliRunner().invoke(main, ["eval-official", str(FIXTURE / "state_dict.pt"), "--config", str(config),
                                    "--data-cache", str(tmp_path / "cache"), "--out", str(out_json)])
    assert out.exit_code == 0, out.output
    result = json.loads(out_json.read_text())

    # What the official evaluation predicted at its last step, scored with our label treatment.
    expected = torch.load(expected_file(FIXTURE), weights_only=False)
    preds = expected["preds"][-1]
    labels = torch.load(FIXTURE / "batch.pt", weights_only=True)["labels"].long()
    supervised = labels > 0
    real = supervised.any(-1)
    exact = ((preds == labels) | ~supervised).all(-1) & real
    token_acc = (((preds == labels) & supervised).sum(-1) / supervised.sum(-1).clamp_min(1))[real]
    assert result["counts"]["exact_accuracy"] == [int(exact.sum()), int(real.sum())]
    assert exact.sum() >= 1 and not exact[real].all()  # a non-trivial check: some rows right, some wrong
    assert abs(result["metrics"]["accuracy"] - float(token_acc.mean())) < 1e-6
    assert result["metrics"]["steps"] == fixture["resolved_config"]["halt_max_steps"]


def test_bench_is_trm_bench(tmp_path):
    out = CliRunner().invoke(main, ["bench", str(DATA / "trm_tiny_train.yaml"), "--batch-size", "8", "--steps", "2",
                                    "--warmup", "1", "--threads", "1", "--ceiling-seconds", "0.01"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["batch_size"] == 8 and len(result["ms_per_step_all"]) == 2 and result["samples_per_s"] > 0
