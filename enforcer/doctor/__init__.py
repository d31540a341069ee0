"""``enforcer doctor``: find a broken EOS or vocabulary configuration before generating.

Reads a model folder or a ``.gguf`` file (no weights, no framework), compares what each file says
about EOS, padding, the chat template's end-of-turn token and the logits width, and reports
problems with a suggested ``generation_config.json``. ``diagnose_model(path)`` is the whole of it::

    from enforcer.doctor import diagnose_model, report_text
    d = diagnose_model("path/to/model")
    print(report_text(d)); raise SystemExit(0 if d.ok else 1)
"""

from __future__ import annotations

from pathlib import Path

from .checks import NOTE, PROBLEM, Diagnosis, Finding, diagnose, report_json, report_text
from .facts import ModelFacts, ModelFilesError, config_eos_ids, read_model
from .gguf import GGUFError, GGUFInfo, read_gguf


def diagnose_model(path: str | Path) -> Diagnosis:
    """Read the model at ``path`` and run every check (raises :class:`ModelFilesError` or
    :class:`GGUFError` when ``path`` is not a readable model)."""
    return diagnose(read_model(path))


__all__ = ["Diagnosis", "Finding", "GGUFError", "GGUFInfo", "ModelFacts", "ModelFilesError", "NOTE", "PROBLEM",
           "config_eos_ids", "diagnose", "diagnose_model", "read_gguf", "read_model", "report_json", "report_text"]
