"""Reading what the user hands the command line: constraint files, prompt files, option values.

Every failure is a :class:`~.common.CliError` naming the file and what is wrong with it (missing,
a folder, not UTF-8, not JSON, a bad line of a JSONL file), so the command line prints one line and
never a traceback. Nothing here loads a model: inputs are checked before the slow part starts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import CliError


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path`` (``-`` is stdin)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        file = Path(path)
        if not file.exists():
            raise CliError(f"{what} file not found: {path}")
        if not file.is_file():
            raise CliError(f"{what} file {path} is a folder, not a file")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
        name = path
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def read_json(path: str, what: str) -> Any:
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


@dataclass
class PromptLine:
    """One request of a ``--prompts`` file: its id (given, or the line number) and its text."""

    id: Any
    prompt: str
    line: int


def read_prompts(path: str) -> list[PromptLine]:
    """A JSONL file: one request per line, ``{"prompt": "...", "id": ...}`` (``id`` optional,
    other keys kept out) or a bare JSON string. Blank lines are skipped."""
    prompts: list[PromptLine] = []
    for number, line in enumerate(read_text(path, "prompts").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path} line {number}: not valid JSON: {exc.msg} at column {exc.colno}") from None
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise CliError(f'{path} line {number}: expected {{"prompt": "..."}} or a JSON string, '
                           f"got {line.strip()[:60]}")
        if not item["prompt"].strip():
            raise CliError(f"{path} line {number}: the prompt is empty")
        prompts.append(PromptLine(item.get("id", number), item["prompt"], number))
    if not prompts:
        raise CliError(f"{path} holds no prompt (one JSON object per line: {{\"prompt\": \"...\"}})")
    return prompts


def check_sampling(args) -> None:
    """Option values argparse cannot judge alone: one line each, before any model is loaded."""
    if args.max_new_tokens < 1:
        raise CliError(f"--max-new-tokens must be at least 1 (got {args.max_new_tokens})")
    if args.temperature < 0:
        raise CliError(f"--temperature must be 0 (greedy) or more (got {args.temperature})")
    if not 0 < args.top_p <= 1:
        raise CliError(f"--top-p must be in (0, 1] (got {args.top_p})")
    if args.repetition_penalty <= 0:
        raise CliError(f"--repetition-penalty must be positive; 1 means none (got {args.repetition_penalty})")
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed must be 0 or more (got {args.seed})")
    if args.prompt is not None and args.prompts is not None:
        raise CliError("--prompt and --prompts exclude each other: put every prompt in the JSONL file")
