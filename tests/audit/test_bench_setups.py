"""audit.bench_setups: the registry's profiles as trm.bench setups, and its command line."""
import importlib.util
import json
from pathlib import Path

import pytest

from audit.bench_setups import main, resolve_bench_setup
from trm.bench import PAPER_SETUPS, flop_count, official_bench_config

OFFICIAL_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "official_step_bench.py"


def test_smoke_profile_comes_from_the_registry():
    setup = resolve_bench_setup("smoke:sudoku-extreme/hrm")
    assert setup.name == "smoke:sudoku-extreme/hrm"
    assert setup.model.arch == "hrm" and setup.seq_len == 36 and setup.vocab_size == 8 and setup.batch_size == 64


def test_paper_names_pass_through_to_trm_bench():
    assert resolve_bench_setup("sudoku-mlp-small") is PAPER_SETUPS["sudoku-mlp-small"]


def test_unknown_profile_names_the_choices(capsys):
    with pytest.raises(KeyError, match="smoke:sudoku-extreme/trm-mlp"):
        resolve_bench_setup("smoke:no-such/claim")
    with pytest.raises(KeyError, match="sudoku-mlp-full"):
        resolve_bench_setup("no-such-profile:sudoku-extreme/trm-mlp")
    with pytest.raises(SystemExit) as exit_info:
        main(["smoke:no-such/claim"])
    assert exit_info.value.code == 2 and "unknown config 'smoke:no-such/claim'" in capsys.readouterr().err


def test_a_bad_claims_file_exits_2_naming_it(tmp_path, capsys):
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims: []\nclaims: []\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["smoke:sudoku-extreme/trm-mlp", "--claims", str(claims)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and str(claims) in err and "duplicate key 'claims'" in err


def test_cli_times_a_profile(capsys):
    main(["smoke:sudoku-extreme/trm-mlp", "--batch-size", "4", "--steps", "1", "--warmup", "1", "--threads", "1",
          "--eval", "--eval-steps", "1", "--ceiling-seconds", "0.01"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["config"] == "smoke:sudoku-extreme/trm-mlp" and result["batch_size"] == 4 and result["threads"] == 1
    assert result["loss_finite"] and result["eval"]["act_steps"] == 6 and result["eval"]["samples_per_s"] > 0


def test_smoke_setup_translates_to_an_official_config_with_the_same_flops():
    if not OFFICIAL_BENCH.exists():
        pytest.skip(f"{OFFICIAL_BENCH} is not on this machine")
    spec = importlib.util.spec_from_file_location("official_step_bench", OFFICIAL_BENCH)
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    for name in ("smoke:sudoku-extreme/trm-mlp", "smoke:sudoku-extreme/hrm", "smoke:arc-agi-1/trm-att"):
        setup = resolve_bench_setup(name)
        theirs = official_bench_config(setup)
        assert official.flops(theirs, 8)["train_step_flops"] == flop_count(setup.model, setup.seq_len,
                                                                          setup.vocab_size, 8).train_step
