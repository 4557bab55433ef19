"""The benchmarks' data: original formats in, the official processed layout out, batches and ARC scores.

Read top to bottom, a build goes:
  hub_csv / arc_sources      read and check the original files (or standins / arc_selection make them)
  sudoku_solver, *_generator the offline stand-ins' puzzles
  symmetry, encoding         augmentations and token encodings
  grid_builders, arc_builder raw cells -> split arrays (the official recipes, seeded)
  processed                  the directory layout, written atomically, with a content hash
  prepare                    DataConfig -> cached, verified directory (`prepare_dataset`)
  dataset                    `PuzzleDataset`: the official sampler and the test walk
  arc_eval                   `ArcEvaluator`: pass@k with voting over task versions
  benchmarks, summary        the `trm-audit data build / show` commands' helpers
Errors in data raise `errors.DataError` (a ValueError) naming the file, the item and the problem.
"""
