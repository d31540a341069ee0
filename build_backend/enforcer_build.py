"""setuptools' PEP 517 backend, asking for mypy as well when ``ENFORCER_COMPILE=1``.

So that ``ENFORCER_COMPILE=1 pip install .`` builds the compiled engine (see ``setup.py``) with
no step before it, while a plain install never downloads mypy.
"""

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (build_editable, build_sdist, build_wheel, get_requires_for_build_sdist,
                                   prepare_metadata_for_build_editable, prepare_metadata_for_build_wheel)

__all__ = ["build_editable", "build_sdist", "build_wheel", "get_requires_for_build_editable",
           "get_requires_for_build_sdist", "get_requires_for_build_wheel", "prepare_metadata_for_build_editable",
           "prepare_metadata_for_build_wheel"]

MYPY = "mypy==2.4.1"  # the mypyc the compiled build is tested with


def _compiler() -> list[str]:
    return [MYPY] if os.environ.get("ENFORCER_COMPILE") == "1" else []


def get_requires_for_build_wheel(config_settings=None):
    return _setuptools.get_requires_for_build_wheel(config_settings) + _compiler()


def get_requires_for_build_editable(config_settings=None):
    return _setuptools.get_requires_for_build_editable(config_settings) + _compiler()
