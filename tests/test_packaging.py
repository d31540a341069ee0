"""What a non-editable install gets: every package of the checkout, and no compiled leftovers.

The tests run on an editable install, which maps whole folders: a package missing from
pyproject's list (``enforcer.engine`` was, until the compiled build) goes unnoticed there and
breaks ``pip install .``.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> tuple[set[str], dict[str, str]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(setuptools["packages"]), setuptools["package-dir"]


def _package_folders() -> dict[str, Path]:
    _, folders = _declared()
    out = {}
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            out[".".join((name, *rel.parts))] = init.parent
    return out


def test_every_package_folder_is_declared():
    packages, _ = _declared()
    assert set(_package_folders()) == packages


def test_the_wheel_holds_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, text=True)
    wheel, = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{package.replace('.', '/')}/{py.name}"
                for package, folder in _package_folders().items() for py in folder.glob("*.py")
                if py.name != "_native_sources.py"}  # written by a compiled build only
    assert expected <= names, sorted(expected - names)[:10]
    # (a record of a build left in the checkout may come along: without extensions it means nothing)
    assert not [n for n in names if n.endswith(".so")], "a plain build must not ship a compiled engine left in the checkout"
