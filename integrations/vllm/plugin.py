"""The ``vllm.general_plugins`` entry point: installs the opt-in structured-output backend.

vLLM calls :func:`register` in every process it starts (frontend, engine core, workers). It does
nothing unless ``ENFORCER_VLLM_BACKEND=1``, and then only on the vLLM versions the backend was
tested with: the patch reaches into vLLM internals that change between releases, and a patch
that silently stops applying would make vLLM serve requests with its own backend.
"""

from __future__ import annotations

import logging
import os
import warnings

ENV_VAR = "ENFORCER_VLLM_BACKEND"
TESTED_VERSIONS = ("0.32.",)

logger = logging.getLogger("enforcer.integrations.vllm")


def enabled() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def register() -> None:
    """Install :class:`~enforcer.integrations.vllm.backend.EnforcerBackend` if asked to."""
    if not enabled():
        return
    import vllm

    version = getattr(vllm, "__version__", "unknown")
    if not version.startswith(TESTED_VERSIONS):
        warnings.warn(f"{ENV_VAR}=1 but vLLM {version} is not one the enforcer backend was tested with "
                      f"({', '.join(v + 'x' for v in TESTED_VERSIONS)}); vLLM's own backend stays in use",
                      RuntimeWarning, stacklevel=2)
        return
    from .backend import install

    if install():
        logger.info("enforcer: structured outputs are served by the enforcer backend (unofficial)")
