"""Issue 10.3: every case of the bad-input catalogue (bad_inputs.CASES, at least 40: claims files,
external result files, CLI arguments, data files) exits with code 2 and one 'Error:' line that says
what is wrong, prints no traceback, writes nothing outside runs/ and reports/ and leaves no partial
output there (a run directory's lock file is all a refused run may leave)."""
from __future__ import annotations

import pytest

from bad_inputs import CASES, describe, handled


def test_the_catalogue_covers_every_kind_of_input():
    kinds = describe()
    assert sum(kinds.values()) >= 40
    assert all(kinds.get(kind, 0) >= 8 for kind in ("claims", "external", "cli", "data"))
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    ok, problem = handled(case, tmp_path)
    assert ok, problem
