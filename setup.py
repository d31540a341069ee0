"""Build hook for the optional compiled engine; everything else is in pyproject.toml.

``ENFORCER_COMPILE=1`` compiles the modules named in ``enforcer/engine/native.py`` with mypyc
(the in-tree backend in ``build_backend/`` asks for mypy then) and records their sources'
hashes, by which the engine knows the extensions match the ``.py`` files beside them. Without
it, the package is pure Python.
"""

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def compiled_extensions() -> list:
    if os.environ.get("ENFORCER_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        if {"build", "build_ext", "bdist_wheel", "editable_wheel", "install"} & set(sys.argv):
            raise SystemExit("ENFORCER_COMPILE=1 needs mypyc: pip install mypy==2.4.1") from None
        return []  # pip asking for the build requirements, before it installs mypy

    engine = HERE / "enforcer" / "engine"
    spec = importlib.util.spec_from_file_location("enforcer_native", engine / "native.py")
    native = importlib.util.module_from_spec(spec)  # imports only the standard library
    spec.loader.exec_module(native)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:  # a failed build must leave none behind
        for stale in engine.glob(f"*{suffix}"):  # that the record below would vouch for
            stale.unlink()
    native.record_sources(engine)
    paths = [f"enforcer/engine/{name}.py" for name in native.COMPILED_MODULES]
    # Only the compiled modules must type-check: the rest of the package stays Python.
    return mypycify(["--follow-imports=silent", *paths], opt_level="3", group_name=native.GROUP)


setup(ext_modules=compiled_extensions())
