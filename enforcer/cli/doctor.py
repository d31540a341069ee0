"""``enforcer doctor MODEL``: the report of :mod:`enforcer.doctor`, exit 0 (consistent) or 1."""

from __future__ import annotations

import json

from .common import EXIT_INCOMPLETE, EXIT_OK, CliError


def run(args) -> int:
    from ..doctor import GGUFError, ModelFilesError, diagnose_model, report_json, report_text

    try:
        diagnosis = diagnose_model(args.model)
    except (GGUFError, ModelFilesError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot read {args.model}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(report_json(diagnosis), indent=2, ensure_ascii=False))
    else:
        print(report_text(diagnosis))
    return EXIT_OK if diagnosis.ok else EXIT_INCOMPLETE
