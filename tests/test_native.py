"""The compiled engine (mypyc) and the choice between it and the Python source.

``make test`` runs every suite with ``ENFORCER_EXPECT_BUILD=mypyc`` and the engine's tests again
with ``ENFORCER_EXPECT_BUILD=python``: ``tests/conftest.py`` stops a run that would measure
another build, and the first test here checks that the modules loaded agree with what
``native.BUILD`` reports.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import enforcer
from enforcer.engine import automaton, expr, grammar, lexemes, lower, native

ENGINE = Path(native.__file__).resolve().parent
MODULES = {"expr": expr, "automaton": automaton, "lexemes": lexemes, "lower": lower, "grammar": grammar}


def _is_extension(module) -> bool:
    return module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_the_engine_runs_the_build_it_reports():
    assert set(MODULES) == set(native.COMPILED_MODULES)
    kinds = {name: _is_extension(module) for name, module in MODULES.items()}
    assert len(set(kinds.values())) == 1, f"compiled and Python modules mixed: {kinds}"
    assert native.BUILD == ("mypyc" if kinds["expr"] else "python")
    expected = os.environ.get("ENFORCER_EXPECT_BUILD")
    if expected is not None:
        assert native.BUILD == expected, f"expected the {expected} build, running {native.describe()}"


def test_a_compiled_build_counts_only_while_it_matches_its_sources(tmp_path):
    for name in native.COMPILED_MODULES:
        shutil.copy(ENGINE / f"{name}.py", tmp_path / f"{name}.py")
    assert native.compiled_state(tmp_path) == "absent"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in native.COMPILED_MODULES[:-1]:
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    assert native.compiled_state(tmp_path).startswith("incomplete: grammar")
    (tmp_path / f"grammar{suffix}").write_bytes(b"")
    assert native.compiled_state(tmp_path).startswith("stale: no readable")
    (tmp_path / native.SOURCES_RECORD).write_text("SOURCES = dict(__import__('os').environ)\n")
    assert native.compiled_state(tmp_path).startswith("stale: no readable")  # read, never run
    native.record_sources(tmp_path)
    assert native.compiled_state(tmp_path) == "compiled"
    with open(tmp_path / "lexemes.py", "a") as f:
        f.write("\n# edited after the build\n")
    assert native.compiled_state(tmp_path).startswith("stale: lexemes changed")


def _build_in_subprocess(env: dict[str, str]) -> list[str]:
    code = ("import enforcer.engine.native as n, enforcer.engine.expr as e, enforcer.engine.grammar as g; "
            "print(n.BUILD); print(e.__file__); print(g.__file__)")
    root = Path(enforcer.__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_pure_python_can_be_asked_for():
    build, expr_file, grammar_file = _build_in_subprocess({native.PURE_PYTHON_ENV: "1"})
    assert build == "python"
    assert expr_file.endswith("expr.py") and grammar_file.endswith("grammar.py")


@pytest.mark.skipif(native.compiled_state() != "compiled" and "ENFORCER_EXPECT_BUILD" not in os.environ,
                    reason="no compiled build here (make compile); `make test` always builds one")
def test_the_compiled_build_is_used_by_default_where_it_is_built():
    build, expr_file, grammar_file = _build_in_subprocess({native.PURE_PYTHON_ENV: "0"})
    assert build == "mypyc"
    assert not expr_file.endswith(".py") and not grammar_file.endswith(".py")


def test_the_makefile_rebuilds_when_a_compiled_module_changes():
    """`make compile` lists the compiled modules itself (make cannot read Python): keep the two
    lists equal, or an edit to a module missing from the Makefile leaves a stale build."""
    makefile = (Path(enforcer.__file__).resolve().parent.parent / "Makefile").read_text()
    listed = re.search(r"^COMPILED_SOURCES := \$\(foreach name,([^,]+),", makefile, re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).split()) == native.COMPILED_MODULES
