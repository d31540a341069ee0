"""The optional compiled build of the engine's hot modules, and the choice between it and Python.

The engine is pure Python. ``ENFORCER_COMPILE=1 pip install .`` (or ``make compile`` in a
checkout) also compiles :data:`COMPILED_MODULES` with mypyc, from the same source: a cold mask
costs about a fifth less (see the README). Nothing else changes; the Python files stay the
reference and the fallback.

The compiled modules run only all together and only when built from the source beside them:
mypyc's classes are native types, so a compiled ``grammar`` cannot work on the expressions of a
Python ``expr``; and a checkout edited after ``make compile`` must not silently run the old code.
The build records a hash of each source (``_native_sources.py``); when a hash differs, or a
module is missing, or ``ENFORCER_PURE_PYTHON=1`` is set, a finder placed first on
``sys.meta_path`` loads the ``.py`` files instead of the extensions.

This module imports nothing from the engine (``setup.py`` reads it to know what to compile).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path

COMPILED_MODULES = ("expr", "automaton", "lexemes", "lower", "grammar")
"""The modules mypyc compiles, in ``enforcer/engine``: where a cold mask spends its time."""

GROUP = "enforcer.engine._native"
"""mypyc's shared library for the group (``_native__mypyc`` beside the modules)."""

SOURCES_RECORD = "_native_sources.py"
"""Written by the compiled build: ``SOURCES = {module: sha256 of its .py}``."""

PURE_PYTHON_ENV = "ENFORCER_PURE_PYTHON"
_PACKAGE = "enforcer.engine"

_HERE = Path(__file__).resolve().parent


def source_hashes(folder: Path = _HERE) -> dict[str, str]:
    """The sha256 of each compiled module's source in ``folder``."""
    return {name: hashlib.sha256((folder / f"{name}.py").read_bytes()).hexdigest() for name in COMPILED_MODULES}


def record_sources(folder: Path = _HERE) -> None:
    """Write :data:`SOURCES_RECORD` for the sources in ``folder``: the build calls this when it
    compiles them, so the engine can later tell whether the extensions still match."""
    (folder / SOURCES_RECORD).write_text(
        '"""Written when the engine was compiled: the hashes of the sources compiled."""\n\n'
        f"SOURCES = {source_hashes(folder)!r}\n")


def _has_extension(folder: Path, name: str) -> bool:
    return any((folder / f"{name}{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _recorded_hashes(folder: Path) -> dict[str, str] | None:
    """The record's hashes, or None when there is none or it is not the dict literal we write."""
    path = folder / SOURCES_RECORD
    if not path.exists():
        return None
    try:
        tree = ast.parse(path.read_text())
        for statement in tree.body:
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "SOURCES"):
                found = ast.literal_eval(statement.value)
                return found if isinstance(found, dict) else None
    except (SyntaxError, ValueError):
        pass
    return None


def compiled_state(folder: Path = _HERE) -> str:
    """``"compiled"`` (every extension present, built from these sources), ``"absent"`` (no
    extension), or why the extensions present cannot be used."""
    present = [name for name in COMPILED_MODULES if _has_extension(folder, name)]
    if not present:
        return "absent"
    if len(present) != len(COMPILED_MODULES):
        return "incomplete: " + ", ".join(sorted(set(COMPILED_MODULES) - set(present))) + " not compiled"
    recorded = _recorded_hashes(folder)
    if recorded is None:
        return f"stale: no readable {SOURCES_RECORD}"
    changed = [name for name, digest in source_hashes(folder).items() if recorded.get(name) != digest]
    if changed:
        return "stale: " + ", ".join(changed) + " changed since the build (make compile rebuilds)"
    return "compiled"


class _PythonSources(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` files ahead of their extensions."""

    def __init__(self, folder: Path):
        self.names = {f"{_PACKAGE}.{name}": folder / f"{name}.py" for name in COMPILED_MODULES}

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        source = self.names.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


BUILD = "python"
"""What the engine runs: ``"mypyc"`` or ``"python"``. ``BUILD_NOTE`` says why, for Python."""
BUILD_NOTE = ""


def describe() -> str:
    """The build in use and, for Python, why: what benchmarks print beside their figures."""
    return BUILD + (f" ({BUILD_NOTE})" if BUILD_NOTE else "")


def choose() -> None:
    """Decide, before the first compiled module is imported, which files the engine runs."""
    global BUILD, BUILD_NOTE
    if any(isinstance(finder, _PythonSources) for finder in sys.meta_path):
        return  # decided already
    state = compiled_state()
    if state == "compiled" and os.environ.get(PURE_PYTHON_ENV) != "1":
        BUILD = "mypyc"
        return
    BUILD = "python"
    if state == "absent":
        BUILD_NOTE = "no compiled build"
        return
    BUILD_NOTE = f"{PURE_PYTHON_ENV}=1" if state == "compiled" else state
    if state != "compiled":
        warnings.warn(f"enforcer: the compiled engine is not used ({state}); running pure Python",
                      RuntimeWarning, stacklevel=3)
    sys.meta_path.insert(0, _PythonSources(_HERE))
