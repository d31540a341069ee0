"""Parse GBNF (llama.cpp's grammar format) into a grammar IR rule set.

Why our own parser: the IR wants the *language* of each rule as one node, with groups inline
and repetition as ``ir.Repeat`` (one node for ``x{0,300}``, not 300 synthesized rules as
llama.cpp builds), and errors should point at the line and column a person has to fix.

The syntax follows llama.cpp's parser (``src/llama-grammar.cpp``), including its layout rules:

* A rule is ``name ::= alternatives``; names are ``[a-zA-Z0-9_-]+`` (llama.cpp's README
  documents underscores, its older parsers did not accept them; we do).
* A newline ends a rule, except inside parentheses, right after ``::=`` and right after ``|``
  (there a newline continues the rule). ``#`` starts a comment that runs to the end of the line.
* Terminals are Unicode code points, emitted as UTF-8: string literals ``"..."``, character
  classes ``[a-z]`` / ``[^...]`` and ``.``, which is *any* code point, newline included (llama.cpp's
  ``LLAMA_GRETYPE_CHAR_ANY`` matches every character).
* Escapes, in literals and classes: ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``, ``\\n``, ``\\r``, ``\\t``,
  and ``\\\\``, ``\\"``, ``\\[``, ``\\]``; we also accept ``\\-`` and ``\\^`` (useful in classes,
  llama.cpp rejects them). Anything else after a backslash is an error, not a guess.
* Postfix operators ``*``, ``+``, ``?``, ``{m}``, ``{m,}``, ``{m,n}`` apply to the symbol or group
  just before them.

Deliberate differences from llama.cpp, where it silently accepts a mistake: a rule defined twice
is an error (llama.cpp keeps the last definition), and so are reversed ranges (``[z-a]``,
which match nothing there) and empty classes. A token reference ``<...>`` names a special token
by its text (``<|python_tag|>``, ``<think>`` where the vocabulary has it as a special token): it
matches that token only, never the same text spelled out. References by id (``<[id]>``) and
negated ones (``!<...>``) are not supported and say so.

After parsing, :func:`enforcer.grammar.analysis.check_rules` rejects what the derivative engine
cannot run or what could only produce dead ends: left recursion and rules that can never finish.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

from ..errors import GrammarSyntaxError, SchemaError
from . import ir
from .analysis import check_rules, recursion_depth
from .nesting import gbnf_depth, recursion_room

__all__ = ["parse_gbnf"]

_ANY_CHAR = ir.CharClass(((0, ir.MAX_CODE_POINT),))
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]",
                   "-": "-", "^": "^"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _is_name_char(c: str) -> bool:
    return len(c) == 1 and c.isascii() and (c.isalnum() or c in "-_")


@dataclass(frozen=True)
class _Where:
    line: int
    column: int


class _Parser:
    """Recursive descent over the text, one method per construct, positions kept for errors."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.rules: dict[str, ir.Node] = {}
        self.defined_at: dict[str, _Where] = {}
        self.first_use: dict[str, int] = {}  # rule name -> offset of its first reference

    # -- errors ----------------------------------------------------------------------------------

    def where(self, offset: int) -> _Where:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return _Where(line, column)

    def error(self, message: str, offset: int | None = None) -> GrammarSyntaxError:
        offset = self.pos if offset is None else offset
        w = self.where(offset)
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        line_text = self.text[start: end if end >= 0 else len(self.text)].rstrip("\r")
        return GrammarSyntaxError(message, line=w.line, column=w.column, line_text=line_text)

    # -- lexical helpers -------------------------------------------------------------------------

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ""

    def skip_space(self, newline_ok: bool) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t" or (newline_ok and c in "\r\n"):
                self.pos += 1
            elif c == "#":
                while self.pos < n and text[self.pos] not in "\r\n":
                    self.pos += 1
            else:
                break

    def name(self) -> str:
        start = self.pos
        while _is_name_char(self.peek()):
            self.pos += 1
        if self.pos == start:
            found = self.peek()
            raise self.error(f"expecting a rule name, found {found!r}" if found else
                             "expecting a rule name, found the end of the grammar")
        return self.text[start: self.pos]

    def char(self, context: str) -> int:
        """One code point, possibly escaped: the unit of literals and classes."""
        c = self.peek()
        if not c:
            raise self.error(f"unexpected end of the grammar inside {context}")
        if c != "\\":
            self.pos += 1
            return ord(c)
        start = self.pos
        e = self.peek(1)
        if e in _SIMPLE_ESCAPES:
            self.pos += 2
            return ord(_SIMPLE_ESCAPES[e])
        if e in _HEX_ESCAPES:
            size = _HEX_ESCAPES[e]
            digits = self.text[self.pos + 2: self.pos + 2 + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"\\{e} needs exactly {size} hex digits", start)
            value = int(digits, 16)
            if value > ir.MAX_CODE_POINT:
                raise self.error(f"\\{e}{digits} is past the last Unicode code point U+10FFFF", start)
            self.pos += 2 + size
            return value
        if not e:
            raise self.error("a backslash ends the grammar", start)
        raise self.error(f"unknown escape '\\{e}' (known: \\x \\u \\U \\n \\r \\t \\\\ \\\" \\[ \\] \\- \\^)", start)

    # -- grammar ---------------------------------------------------------------------------------

    def parse(self) -> None:
        self.skip_space(True)
        while self.pos < len(self.text):
            self.rule()

    def rule(self) -> None:
        start = self.pos
        if not _is_name_char(self.peek()):
            raise self.error(f"expecting a rule name, found {self.peek()!r} (a newline ends a rule, "
                             "except inside parentheses or after '|')")
        name = self.name()
        self.skip_space(False)
        if not self.text.startswith("::=", self.pos):
            raise self.error(f"expecting '::=' after the rule name {name!r}")
        if name in self.defined_at:
            first = self.defined_at[name]
            raise self.error(f"rule {name!r} is defined twice (first at line {first.line})", start)
        self.defined_at[name] = self.where(start)
        self.pos += 3
        self.skip_space(True)
        self.rules[name] = self.alternatives(nested=False)
        c = self.peek()
        if c in ("\r", "\n"):
            self.pos += 1
        elif c == ")":
            raise self.error("unbalanced ')'")
        elif c:
            raise self.error(f"unexpected {c!r}: expecting a symbol, '|' or the end of the line")
        self.skip_space(True)

    def alternatives(self, nested: bool) -> ir.Node:
        options = [self.sequence(nested)]
        while self.peek() == "|":
            self.pos += 1
            self.skip_space(True)
            options.append(self.sequence(nested))
        return ir.alt(*options)

    def sequence(self, nested: bool) -> ir.Node:
        items: list[ir.Node] = []
        while True:
            c = self.peek()
            start = self.pos
            if c == '"':
                items.append(self.literal())
            elif c == "[":
                items.append(self.char_class())
            elif c == ".":
                self.pos += 1
                items.append(_ANY_CHAR)
            elif c and _is_name_char(c):
                name = self.name()
                if self._next_is_definition():
                    raise self.error(f"expecting a newline before the definition of {name!r}", start)
                self.first_use.setdefault(name, start)
                items.append(ir.Ref(name))
            elif c == "(":
                self.pos += 1
                self.skip_space(True)
                inner = self.alternatives(nested=True)
                if not self.peek():
                    raise self.error("this '(' is never closed: expecting ')'", start)
                if self.peek() != ")":
                    raise self.error("expecting ')' to close the group opened at line "
                                     f"{self.where(start).line}, column {self.where(start).column}")
                self.pos += 1
                items.append(inner)
            elif c in ("*", "+", "?", "{"):
                if not items:
                    raise self.error(f"{c!r} has nothing before it to repeat")
                lo, hi = self.quantifier()
                items[-1] = ir.repeat(items[-1], lo, hi)
            elif c == "<" and not self.text.startswith("<[", self.pos):
                items.append(self.special_token())
            elif c in ("<", "!"):
                raise self.error("token references by id (<[id]>) and negated ones (!<...>) are not "
                                 "supported; name a special token by its text, as in <|python_tag|>")
            else:
                break
            self.skip_space(nested)
        return ir.seq(*items)

    def special_token(self) -> ir.Node:
        """``<think>``, ``<|python_tag|>``: one special token, named by its whole text (brackets
        included, as llama.cpp does); the engine checks the vocabulary has it."""
        start = self.pos
        end = self.text.find(">", start)
        newline = self.text.find("\n", start)
        if end < 0 or (0 <= newline < end):
            raise self.error("this '<' starts a token reference that is never closed with '>'", start)
        self.pos = end + 1
        return ir.Special(self.text[start: end + 1])

    def _next_is_definition(self) -> bool:
        save = self.pos
        self.skip_space(False)
        found = self.text.startswith("::=", self.pos)
        self.pos = save
        return found

    def quantifier(self) -> tuple[int, int | None]:
        c = self.peek()
        self.pos += 1
        if c == "*":
            return 0, None
        if c == "+":
            return 1, None
        if c == "?":
            return 0, 1
        start = self.pos - 1
        self.skip_space(True)
        lo = self.integer()
        self.skip_space(True)
        if self.peek() == "}":
            self.pos += 1
            return lo, lo
        if self.peek() != ",":
            raise self.error("expecting ',' or '}' in a repetition {m,n}")
        self.pos += 1
        self.skip_space(True)
        hi = self.integer() if self.peek().isdigit() else None
        self.skip_space(True)
        if self.peek() != "}":
            raise self.error("expecting '}' to close the repetition")
        self.pos += 1
        if hi is not None and hi < lo:
            raise self.error(f"repetition {{{lo},{hi}}}: the maximum is below the minimum", start)
        return lo, hi

    def integer(self) -> int:
        start = self.pos
        while self.peek().isascii() and self.peek().isdigit():
            self.pos += 1
        if self.pos == start:
            raise self.error("expecting a number in a repetition {m,n}")
        return int(self.text[start: self.pos])

    def literal(self) -> ir.Node:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.peek() != '"':
            if not self.peek():
                raise self.error("unterminated string literal", start)
            at = self.pos
            cp = self.char("a string literal")
            if ir.SURROGATES[0] <= cp <= ir.SURROGATES[1]:
                raise self.error(f"U+{cp:04X} is a surrogate, not a character: it has no UTF-8 form", at)
            out.append(chr(cp))
        self.pos += 1
        return ir.literal("".join(out))

    def char_class(self) -> ir.Node:
        start = self.pos
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while self.peek() != "]":
            if not self.peek():
                raise self.error("unterminated character class", start)
            at = self.pos
            lo = self.char("a character class")
            hi = lo
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                hi = self.char("a character class")
                if hi < lo:
                    raise self.error(f"range {chr(lo)!r}-{chr(hi)!r} is reversed (U+{lo:04X} > U+{hi:04X})", at)
            ranges.append((lo, hi))
        self.pos += 1
        if not ranges:
            raise self.error("empty character class", start)
        normalized = ir.normalize_ranges(ranges)
        if negated:
            normalized = ir.complement_ranges(normalized)
        node = ir.char_class(normalized)
        if isinstance(node, ir.Never):
            raise self.error("this character class matches no character", start)
        return node


def parse_gbnf(text: str, *, start: str = "root") -> ir.Rules:
    """Parse GBNF text into rules whose start rule is ``start``.

    Raises :class:`~enforcer.errors.GrammarSyntaxError` (line, column, the line and a caret) for
    malformed text, references to undefined rules and rules defined twice, and
    :class:`~enforcer.errors.SchemaError` for a missing start rule, left recursion and rules that
    can never finish.
    """
    with recursion_room(gbnf_depth(text)):
        return _parse(text, start)


def _parse(text: str, start: str) -> ir.Rules:
    parser = _Parser(text)
    parser.parse()
    for name, offset in sorted(parser.first_use.items(), key=lambda item: item[1]):
        if name not in parser.rules:
            close = difflib.get_close_matches(name, parser.rules, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise parser.error(f"undefined rule {name!r}{hint}", offset)
    if start not in parser.rules:
        known = ", ".join(parser.rules) or "none"
        raise SchemaError(f"the grammar has no rule {start!r} to start from (rules defined: {known})")
    rules = ir.Rules(parser.rules, start)
    check_rules(rules, locate=lambda name: f"line {parser.defined_at[name].line}")
    return dataclasses.replace(rules, depth=recursion_depth(rules))
