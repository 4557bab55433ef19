"""A short human-readable description of a processed directory (`trm-audit data show`)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from trm.data.encoding import ARC_VOCAB, arc_crop, maze_vocab, sudoku_vocab
from trm.data.processed import TEST_PUZZLES, load_split, read_identifiers, read_test_puzzles, verify_content


def guess_vocabulary(vocab_size: int, seq_len: int) -> tuple[str, ...]:
    """Token names for an official directory without build.json, from its sizes."""
    if vocab_size == 12:
        return ARC_VOCAB
    if vocab_size == 6:
        return maze_vocab()
    return sudoku_vocab(math.isqrt(seq_len))


def render_grid(tokens: np.ndarray, vocabulary: tuple[str, ...]) -> list[str]:
    """Rows of one example: ARC cropped to its grid (colour digits), others one character per cell."""
    side = math.isqrt(tokens.size)
    if tuple(vocabulary) == ARC_VOCAB:
        grid = arc_crop(tokens, side)
        return ["".join(str(c) for c in row) for row in grid] or ["(empty grid)"]
    chars = np.array([name if len(name) == 1 else "?" for name in vocabulary])
    return ["".join(row) for row in chars[np.asarray(tokens).reshape(side, side)]]


def describe_dataset(root: Path, *, example: bool = True) -> list[str]:
    """Lines: source, seed, content hash check, sizes per split, vocabulary, deviations, and (if
    `example`) the first test example rendered as input | label."""
    from trm.data.prepare import check_processed

    root = Path(root)
    info = verify_content(root)  # first: "the data files changed" explains most other problems
    check_processed(root)  # what the trainer checks (identifier count), so show accepts only what it accepts
    if (root / TEST_PUZZLES).exists():
        read_test_puzzles(root)
    lines = [f"dataset: {root}"]
    if info is None:
        lines.append("build.json: none (an official builder's directory); content hash not checked")
    else:
        lines.append(f"task: {info.get('task')}  source: {info.get('source', {}).get('kind')}  seed: {info.get('seed')}")
        lines.append(f"content hash: {info['content_hash'][:16]}... (verified)")
    splits = {split: load_split(root, split) for split in ("train", "test")}
    meta = splits["test"][0]
    for split, (m, arrays) in splits.items():
        lines.append(f"{split}: {arrays.num_groups} groups, {arrays.num_puzzles} puzzles, {arrays.num_examples} examples "
                     f"(mean {m.mean_puzzle_examples:.3f} per puzzle; token dtype {arrays.inputs.dtype})")
    vocabulary = tuple(info["vocabulary"]) if info else guess_vocabulary(meta.vocab_size, meta.seq_len)
    lines.append(f"seq_len {meta.seq_len}, vocab_size {meta.vocab_size}: "
                 + " ".join(f"{i}={name!r}" for i, name in enumerate(vocabulary)))
    lines.append(f"puzzle identifiers: {len(read_identifiers(root))}")
    for deviation in (info or {}).get("deviations", []):
        lines.append(f"deviation: {deviation}")
    test = splits["test"][1]
    if example and test.num_examples:
        lines.append("test example 0, input | label:")
        left = render_grid(np.asarray(test.inputs[0]), vocabulary)
        right = render_grid(np.asarray(test.labels[0]), vocabulary)
        width = max(len(r) for r in left)
        for k in range(max(len(left), len(right))):
            a = left[k] if k < len(left) else ""
            b = right[k] if k < len(right) else ""
            lines.append(f"  {a:<{width}} | {b}")
    return lines
