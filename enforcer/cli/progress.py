"""Progress while a model generates: tokens so far, tokens per second, the text as it comes.

A CPU model writes a few tokens a second; a silent terminal for a minute reads as a hang. The
:class:`Progress` object is a transformers streamer (``generate(streamer=...)`` calls ``put`` with
the prompt, then with each new token, then ``end``). On a terminal it keeps one status line
rewritten in place (count, rate, the tail of the text); elsewhere (a log, a pipe, a test) it
streams the text itself to stderr and ends with one summary line. stdout is left to the results.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Any


class Progress:
    def __init__(self, tokenizer: Any, eos_ids: frozenset[int] | set[int], *, label: str = "",
                 stream: IO[str] | None = None, live: bool | None = None, enabled: bool = True):
        self.tokenizer = tokenizer
        self.eos = eos_ids
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.enabled = enabled
        self.tokens: list[int] = []
        self._prompt_seen = False
        self._shown = ""          # text already written (stream mode)
        self._start = 0.0
        self._first = 0.0         # time of the first new token (the prompt's forward pass excluded)
        self._last_draw = 0.0

    # -- the transformers streamer protocol ----------------------------------------------------

    def put(self, value: Any) -> None:
        ids = value.reshape(-1).tolist() if hasattr(value, "reshape") else list(value)
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            self._start = time.perf_counter()
            return
        for token in ids:
            if not self.tokens:
                self._first = time.perf_counter()
            self.tokens.append(int(token))
        self._update()

    def end(self) -> None:
        self._update(final=True)

    # -- figures ------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start if self._start else 0.0

    def rate(self) -> float:
        """Tokens per second after the first token (the prompt's forward pass is not a token)."""
        if len(self.tokens) < 2:
            return 0.0
        return (len(self.tokens) - 1) / max(time.perf_counter() - self._first, 1e-9)

    def text(self) -> str:
        body = [t for t in self.tokens if t not in self.eos]
        return self.tokenizer.decode(body, skip_special_tokens=True) if body else ""

    # -- drawing ------------------------------------------------------------------------------

    def _update(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.live:
            now = time.perf_counter()
            if final or now - self._last_draw >= 0.1:
                self._last_draw = now
                self._draw_line(final)
            return
        text = self.text()
        # Hold back a trailing replacement character: the rest of that UTF-8 character is coming.
        ready = text if final else text.rstrip("\ufffd")
        if ready.startswith(self._shown) and len(ready) > len(self._shown):
            self.stream.write(ready[len(self._shown):])
            self._shown = ready
            self.stream.flush()
        if final and self._shown:
            self.stream.write("\n")
            self.stream.flush()

    def _draw_line(self, final: bool) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        head = f"[enforcer] {self.label}{len(self.tokens)} tokens, {self.rate():.1f} tokens/s | "
        tail = self.text().replace("\n", "\u23ce")
        room = max(width - len(head) - 1, 10)
        if len(tail) > room:
            tail = "\u2026" + tail[-(room - 1):]
        self.stream.write("\r\033[K" + head + tail)
        if final:
            self.stream.write("\r\033[K")
        self.stream.flush()

    def summary(self, ending: str) -> str:
        return (f"{self.label}{len(self.tokens)} tokens in {self.elapsed:.1f} s "
                f"({self.rate():.1f} tokens/s), {ending}")
