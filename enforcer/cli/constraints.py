"""What the output must be (a schema, a GBNF grammar, a regex or tool calls), for the command line.

One :class:`Task` per run: it compiles the constraint for a vocabulary (first for a throwaway
byte vocabulary, so that a bad schema fails before a model is loaded), writes the default prompt,
and judges a finished output (parse the JSON and validate it, read the tool calls back, or give
the exact bytes a grammar or regex produced).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import SchemaError
from ..tools.formats import FORMATS
from .common import CliError
from .inputs import read_json, read_text


def byte_vocabulary():
    """256 one-byte tokens and an EOS: enough to compile and check a constraint without a model."""
    from ..vocab import Vocabulary

    return Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256],
                                       special_text={256: "<eos>"})


def tool_choice(value: str) -> Any:
    return value if value in ("auto", "required", "none") else {"type": "function", "function": {"name": value}}


@dataclass
class Outcome:
    """A finished output: what goes to stdout, the JSONL fields, and the status line."""

    text: str
    fields: dict = field(default_factory=dict)
    summary: str = ""


@dataclass
class Task:
    kind: str            # "schema", "grammar", "regex" or "tools"
    label: str           # file name or the regex, for messages
    source: Any          # schema / tools (parsed JSON), grammar text, regex pattern
    options: dict = field(default_factory=dict)

    @classmethod
    def from_args(cls, args) -> Task:
        if args.schema:
            return cls("schema", args.schema, read_json(args.schema, "schema"))
        if args.grammar:
            return cls("grammar", args.grammar, read_text(args.grammar, "grammar"))
        if args.regex is not None:
            if not args.regex:
                raise CliError("--regex is empty")
            return cls("regex", f"regex {args.regex!r}", args.regex)
        options = {"tool_choice": args.tool_choice, "format": args.tool_format,
                   "parallel_tool_calls": args.parallel_tool_calls}
        return cls("tools", args.tools, read_json(args.tools, "tools"), options)

    def compile(self, vocab, *, strict: bool = True):
        from ..compile import compile_grammar, compile_json_schema, compile_regex
        from ..tools import compile_tools

        try:
            with warnings.catch_warnings():
                if not strict:
                    warnings.simplefilter("ignore")
                if self.kind == "schema":
                    return compile_json_schema(self.source, vocab, strict=strict)
                if self.kind == "grammar":
                    return compile_grammar(self.source, vocab)
                if self.kind == "regex":
                    return compile_regex(self.source, vocab)
                return compile_tools(self.source, vocab, strict=strict, **self.options)
        except SchemaError as exc:
            if self.kind == "grammar":
                raise CliError(f"{self.label}: {exc}") from None
            if self.kind == "regex":
                raise CliError(f"{self.label}: {exc}", code=1 if _unsupported(exc) else 2) from None
            raise

    def precheck(self) -> None:
        """Compile for a byte vocabulary: a bad constraint fails here, before a model loads."""
        self.compile(byte_vocabulary())

    def system_prompt(self) -> str | None:
        if self.kind != "tools":
            return None
        from ..tools import describe_tools

        return describe_tools(self.source, self.options["format"])

    def default_prompt(self) -> str:
        if self.kind == "schema":
            title = self.source.get("title", "object") if isinstance(self.source, dict) else "value"
            description = self.source.get("description", "") if isinstance(self.source, dict) else ""
            return f"Give an example {title} as JSON. {description}".strip()
        if self.kind == "grammar":
            return "Write an example of text that follows this grammar (GBNF):\n" + self.source
        if self.kind == "regex":
            return f"Write text that matches the regular expression {self.source}"
        return "Call the tool that fits: what is the weather in Paris?"

    def finish(self, tokens: list[int], vocab, tokenizer) -> Outcome:
        """Judge a complete output (``tokens`` without the EOS). Raises CliError(code 1) if it is
        not valid, which a correct engine never lets happen."""
        data = b"".join(vocab.token_bytes(t) or b"" for t in tokens)
        text = data.decode("utf-8", errors="replace")
        if self.kind == "schema":
            import jsonschema

            try:
                value = json.loads(text)
                jsonschema.validate(value, self.source)
            except (ValueError, jsonschema.ValidationError) as exc:
                raise CliError(f"the output is not valid under {self.label}: {str(exc).splitlines()[0]}",
                               code=1) from None
            return Outcome(text, {"value": value}, "valid JSON, ended on EOS")
        if self.kind == "tools":
            from ..tools import parse_tool_calls

            calls = parse_tool_calls(tokens, self.source, format=self.options["format"], vocab=vocab)
            shown = tokenizer.decode(tokens) if tokenizer is not None else text
            return Outcome(shown + "\n" + json.dumps(calls, ensure_ascii=False), {"tool_calls": calls},
                           f"{len(calls)} tool call(s), arguments valid, ended on EOS")
        what = "the grammar" if self.kind == "grammar" else "the regex"
        return Outcome(text, {}, f"complete under {what}, ended on EOS")


def _unsupported(exc: Exception) -> bool:
    from ..errors import UnsupportedSchemaError

    return isinstance(exc, UnsupportedSchemaError)


TOOL_FORMATS = sorted(FORMATS)
