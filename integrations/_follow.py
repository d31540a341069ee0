"""Following one request through frameworks that hand a processor the whole token sequence.

MLX-LM and llama-cpp-python call a logits processor with every token so far (prompt and
generated) and the logits of the next one; they say nothing about where the prompt ends, when a
request starts, or which draft tokens were thrown away. :class:`SequenceFollower` works that out
from the sequence itself: the first call fixes the prompt; each later call is compared with what
the matcher has consumed (a longer sequence is advanced, a diverging one, as after rejected draft
tokens, is rolled back to the common prefix first); a sequence whose prompt differs starts a new
request. Only the public matcher API is used.
"""

from __future__ import annotations

import numpy as np

from enforcer import Grammar, Matcher


class SequenceFollower:
    """One matcher kept in step with the token sequences a framework passes to its processor."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self._prompt: np.ndarray | None = None
        self._generated: list[int] = []
        self.matcher: Matcher = grammar.matcher()
        self.requests = 0  # how many requests this follower has seen start

    def reset(self) -> None:
        """Forget the current request: the next call starts a new one."""
        self._prompt = None

    def sync(self, ids: np.ndarray) -> Matcher:
        """Advance (or roll back) the matcher to the sequence ``ids`` (prompt + generated)."""
        ids = np.asarray(ids).reshape(-1)
        prompt = self._prompt
        if prompt is None or ids.shape[0] < prompt.shape[0] or not np.array_equal(ids[: prompt.shape[0]], prompt):
            self._prompt = ids.copy()
            self._generated = []
            self.matcher = self.grammar.matcher()
            self.requests += 1
            return self.matcher
        generated = ids[prompt.shape[0]:].tolist()
        known = self._generated
        if len(generated) == len(known) + 1 and generated[:-1] == known:
            common = len(known)  # the usual step: one new token
        else:
            common = 0
            limit = min(len(generated), len(known))
            while common < limit and generated[common] == known[common]:
                common += 1
        if common < len(known):
            self.matcher.rollback(len(known) - common)
            del known[common:]
        for token in generated[common:]:
            self.matcher.advance(token)  # TokenRejectedError if something let a forbidden token through
            known.append(token)
        return self.matcher

    @property
    def generated(self) -> list[int]:
        return list(self._generated)
