"""The trainer (`trm`) knows nothing of the harness (`audit`): importing every trm module loads no
audit module, and no trm source file imports audit, not even lazily inside a function."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TRM = REPO / "trm"
HARNESS = "audit"

# Imports every module of the trm package, then prints the harness modules that got loaded.
_IMPORT_ALL = f"""
import importlib, pkgutil, sys
import trm
names = [m.name for m in pkgutil.walk_packages(trm.__path__, "trm.")]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(m for m in sys.modules if m == {HARNESS!r} or m.startswith({HARNESS!r} + "."))))
"""


def _is_harness(module: str) -> bool:
    return module == HARNESS or module.startswith(HARNESS + ".")


def harness_imports(source: str, filename: str) -> list[str]:
    """'line N: module' for each import of the harness anywhere in `source` (ast, so strings and
    comments that mention it do not count; relative imports stay inside trm)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if _is_harness(name)]
    return found


def test_importing_every_trm_module_loads_no_harness_module():
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert done.returncode == 0, done.stderr
    count, loaded = (done.stdout.splitlines() + ["", ""])[:2]
    assert int(count) >= 20  # the walk reached the whole package (trm/ and trm/data/)
    assert loaded == "", f"importing trm loaded {loaded}"


def test_no_trm_source_file_imports_the_harness():
    files = sorted(TRM.rglob("*.py"))
    assert len(files) >= 20
    offenders = [f"{path.relative_to(REPO)}: {hit}" for path in files
                 for hit in harness_imports(path.read_text(), str(path))]
    assert offenders == []


@pytest.mark.parametrize("source", ["import audit", "import os, audit.registry as r",
                                    "def f():\n    from audit.errors import InputError",
                                    "import importlib\nimportlib.import_module('audit.registry')"])
def test_the_static_check_sees_every_form_of_import(source):
    assert harness_imports(source, "example.py") != []


@pytest.mark.parametrize("source", ["import auditing", "from .audit import x", "x = 'import audit'  # audit"])
def test_the_static_check_ignores_what_is_not_a_harness_import(source):
    assert harness_imports(source, "example.py") == []
