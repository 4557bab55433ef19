"""Parameter counts of every paper configuration (docs/model-spec.md §5.3), built on the meta device."""
import pytest

from trm.config import ModelConfig
from trm.params import count_parameters

TRM_MLP = ModelConfig(arch="trm", mixer="mlp", pos_encodings="none", h_cycles=3, l_cycles=6)
TRM_ATT = ModelConfig(arch="trm", mixer="attention", pos_encodings="rope", h_cycles=3, l_cycles=4)
HRM = ModelConfig(arch="hrm", mixer="attention", pos_encodings="rope", l_layers=4, h_layers=4, h_cycles=2,
                  l_cycles=2, puzzle_emb_len=0, act_continue=True)
SUDOKU, MAZE, ARC = dict(seq_len=81, vocab_size=11), dict(seq_len=900, vocab_size=6), dict(seq_len=900, vocab_size=12)
ARC_IDS = 876_406


@pytest.mark.parametrize("cfg, data, ids, expected", [
    (TRM_MLP, SUDOKU, 1, 5_028_866),
    (TRM_ATT, SUDOKU, 1, 6_828_034),
    (TRM_ATT, MAZE, 1, 6_822_914),
    (TRM_ATT, ARC, ARC_IDS, 6_829_058),
    (HRM, SUDOKU, 1, 27_275_266),
    (HRM, MAZE, 1, 27_270_146),
    (HRM, ARC, ARC_IDS, 27_276_290),
], ids=["trm-mlp-sudoku", "trm-att-sudoku", "trm-att-maze", "trm-att-arc", "hrm-sudoku", "hrm-maze", "hrm-arc"])
def test_paper_parameter_counts(cfg, data, ids, expected):
    assert count_parameters(cfg, **data, num_puzzle_identifiers=ids) == expected


def test_puzzle_embedding_table_is_not_counted():
    small = count_parameters(TRM_ATT, **ARC, num_puzzle_identifiers=1)
    assert small == count_parameters(TRM_ATT, **ARC, num_puzzle_identifiers=ARC_IDS) == 6_829_058


def test_count_follows_the_architecture():
    # the token-mixing MLP depends on P = 81 + 16; one block fewer removes exactly one block
    one_layer = ModelConfig(mixer="mlp", pos_encodings="none", l_layers=1)
    assert count_parameters(TRM_MLP, **SUDOKU) - count_parameters(one_layer, **SUDOKU) == 2_508_288
