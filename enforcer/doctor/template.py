"""Which token a chat template writes at the end of an assistant turn.

The model learned to stop by writing that token, so it must be in the EOS set; a fine-tune that
changed the template (ChatML on a Llama base, say) and not the EOS ids makes the model ramble past
its answer. The template is rendered, when jinja2 is installed (it comes with transformers), with a
two-message conversation whose assistant content is a sentinel; the special token written right
after the sentinel is the end of turn. Without jinja2, or when the template refuses our
conversation, a plainer reading is used: the first special token written after a ``content``
expression in the template text.
"""

from __future__ import annotations

import re
from typing import Iterable

_SENTINEL = "ENFORCERDOCTORSENTINEL"
_CONTENT_EXPR = re.compile(r"""content['"]?\]?\s*(?:\|[^}]*)?\}\}""")


def end_of_turn(template: str, special_tokens: Iterable[str], *, bos_token: str | None = None,
                eos_token: str | None = None) -> tuple[str | None, str]:
    """The special token that ends an assistant turn, and how it was found (for the report)."""
    specials = sorted({t for t in special_tokens if t}, key=len, reverse=True)
    rendered = _render(template, bos_token, eos_token)
    if rendered is not None:
        after = rendered.split(_SENTINEL + "A", 1)
        if len(after) == 2:
            token = _leading_special(after[1].lstrip(" \n"), specials)
            if token is not None:
                return token, "rendered: the token after the assistant's message"
    token = _first_after_content(template, specials)
    if token is not None:
        return token, "read from the template text"
    return None, ""


def _leading_special(text: str, specials: list[str]) -> str | None:
    for token in specials:
        if text.startswith(token):
            return token
    return None


def _first_after_content(template: str, specials: list[str]) -> str | None:
    best: tuple[int, str] | None = None
    for match in _CONTENT_EXPR.finditer(template):
        rest = template[match.end():]
        for token in specials:
            where = rest.find(token)
            if where != -1 and (best is None or where < best[0]):
                best = (where, token)
        if best is not None:
            return best[1]
    return None


def _render(template: str, bos_token: str | None, eos_token: str | None) -> str | None:
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        return None

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters.setdefault("tojson", lambda value, **_: __import__("json").dumps(value))
    conversations = (
        [{"role": "user", "content": _SENTINEL + "U"}, {"role": "assistant", "content": _SENTINEL + "A"}],
        [{"role": "system", "content": _SENTINEL + "S"}, {"role": "user", "content": _SENTINEL + "U"},
         {"role": "assistant", "content": _SENTINEL + "A"}],
    )
    for messages in conversations:
        try:
            return env.from_string(template).render(
                messages=messages, add_generation_prompt=False, bos_token=bos_token or "",
                eos_token=eos_token or "", raise_exception=raise_exception, tools=None,
                strftime_now=lambda fmt: "01 Jan 2026", date_string="01 Jan 2026")
        except Exception:  # noqa: BLE001 - any template failure: try the next conversation
            continue
    return None
