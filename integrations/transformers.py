"""Hugging Face transformers: constrained ``model.generate`` through a logits processor or
``prefix_allowed_tokens_fn``.

Example::

    from enforcer.integrations.transformers import JsonSchemaLogitsProcessor

    processor = JsonSchemaLogitsProcessor(schema, tokenizer, model=model)
    out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=256)

The vocabulary is built with the model, so masks are as wide as its logits and every EOS id of
its generation config is allowed once the JSON is complete. One matcher follows each row; rows
are identified by the tokens generated so far, so beam search may reorder, duplicate or drop rows
between steps. A processor may serve several ``generate`` calls one after the other: a call
whose input is not the previous step's plus one token (another prompt, or the first step again)
starts a new generation. The compiled grammar is what costs; share it between processors and
threads through :class:`GrammarLogitsProcessor`.

Failures follow enforcer's request layer (:mod:`enforcer.service`): errors a caller can fix
(a schema that does not compile) raise when the processor is made; once generation runs, a row
whose constraint cannot be enforced (a token the grammar forbids, sampled because a processor
after this one changed the scores; an error while computing a mask) fails closed: it may only
end (EOS next), the reason is logged once, and ``generate`` carries on with the other rows.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from transformers import LogitsProcessor

from enforcer import Grammar, OptionError, Vocabulary, compile_json_schema, compile_tools
from enforcer.masking import allocate_token_bitmask, apply_token_bitmask_inplace, unpack_bitmask
from enforcer.service import GuardedMatcher, guard


class _RowTracker:
    """Matchers keyed by the tokens a row generated; a longer row forks the matcher of its
    longest known prefix and feeds it the rest (a rejected token fails that row closed)."""

    def __init__(self, grammar: Grammar, label: str = "a generated sequence", max_tokens: int | None = None):
        self.grammar = grammar
        self._by_prefix: dict[tuple[int, ...], GuardedMatcher] = {
            (): guard(grammar, label=label, max_tokens=max_tokens)}

    def matcher_for(self, generated: tuple[int, ...]) -> GuardedMatcher | None:
        """The matcher after ``generated``; ``None`` once the row has ended (EOS seen)."""
        known = len(generated)
        while generated[:known] not in self._by_prefix:  # the root () is always known
            known -= 1
        matcher = self._by_prefix[generated[:known]]
        for i in range(known, len(generated)):
            if matcher.is_terminated():
                return None
            matcher = matcher.fork()
            matcher.advance(generated[i])
            self._by_prefix[generated[: i + 1]] = matcher
        return None if matcher.is_terminated() else matcher

    def forget_shorter_than(self, length: int) -> None:
        """Drop matchers no row can extend any more (rows only grow by one token a step)."""
        self._by_prefix = {k: m for k, m in self._by_prefix.items() if len(k) >= length - 1 or not k}


def budget_for(max_new_tokens: int | None, model: Any, budget: bool) -> int | None:
    """The token budget of a processor: ``max_new_tokens`` as given, else the model's generation
    config's (a processor cannot see what ``generate`` was called with); ``None`` without one
    or with ``budget=False``."""
    if not budget:
        return None
    if max_new_tokens is None and model is not None:
        max_new_tokens = getattr(getattr(model, "generation_config", None), "max_new_tokens", None)
    if max_new_tokens is None:
        return None
    if type(max_new_tokens) is not int or max_new_tokens < 1:
        raise OptionError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    return max_new_tokens


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks every token the grammar forbids; EOS only when the output is complete.

    Args:
        grammar: a compiled :class:`enforcer.Grammar` (``compile_json_schema``, ``compile_regex``);
            it may be shared by many processors and threads.
        max_new_tokens: the ``max_new_tokens`` that ``generate`` will run with. The processor
            then allows only tokens after which a complete output still fits, so the output ends
            complete (on EOS) within it whenever a valid one fits. Give the same number to both:
            a processor cannot see ``generate``'s arguments. ``None``: no budget.
    """

    def __init__(self, grammar: Grammar, *, max_new_tokens: int | None = None):
        self.grammar = grammar
        self.max_new_tokens = budget_for(max_new_tokens, None, True)
        self._prompt: torch.Tensor | None = None  # the input of the generation's first step
        self._length = 0  # the input length of the last step
        self._rows = _RowTracker(grammar, max_tokens=self.max_new_tokens)
        self._bitmask: torch.Tensor | None = None

    def _is_new_generation(self, input_ids: torch.Tensor) -> bool:
        """A step of another ``generate`` call than the last one: its first step (the input is
        no longer than the prompt), another batch, another prompt, or a jump of more than one
        token (assisted decoding steps back, never forward by more than one)."""
        prompt = self._prompt
        batch, length = input_ids.shape
        return (prompt is None or batch != prompt.shape[0] or length <= prompt.shape[1]
                or length > self._length + 1 or not torch.equal(input_ids[:, : prompt.shape[1]], prompt))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._is_new_generation(input_ids):
            self._prompt = input_ids.clone()
            self._rows = _RowTracker(self.grammar, max_tokens=self.max_new_tokens)
        self._length = input_ids.shape[1]
        batch = input_ids.shape[0]
        generated = input_ids[:, self._prompt.shape[1]:].tolist()
        vocab_size = self.grammar.vocab.size
        if self._bitmask is None or self._bitmask.shape[0] < batch:
            self._bitmask = allocate_token_bitmask(batch, vocab_size)
        eos = self.grammar.vocab.eos_token_ids
        rows = []
        for row, tokens in enumerate(generated):
            if any(t in eos for t in tokens):  # finished rows are left alone: generate pads them
                continue
            matcher = self._rows.matcher_for(tuple(tokens))
            if matcher is None:  # finished rows are left alone: generate pads them
                continue
            matcher.fill_next_token_bitmask(self._bitmask, len(rows))
            rows.append(row)
        if generated:
            self._rows.forget_shorter_than(len(generated[0]))
        if rows:
            index = None if len(rows) == batch else torch.tensor(rows, dtype=torch.long)
            apply_token_bitmask_inplace(scores, self._bitmask, vocab_size=vocab_size, rows=index)
            self._revive_empty_rows(scores, rows, vocab_size)
        return scores

    def _revive_empty_rows(self, scores: torch.FloatTensor, rows: list[int], vocab_size: int) -> None:
        """A top-p/top-k warper that ran *before* us may have kept only forbidden tokens: the row
        is then all -inf and sampling would fail on NaN. Its original logits are gone, so the
        allowed tokens get equal scores: a valid choice beats a crash. (Put this processor first
        to avoid it: generate's own warpers already run after custom processors.)"""
        empty = torch.isneginf(scores[rows].amax(dim=1)).nonzero().flatten().tolist()
        for k in empty:
            allowed = unpack_bitmask(self._bitmask[k: k + 1], vocab_size)[0].to(scores.device)
            scores[rows[k], :vocab_size] = torch.where(allowed, 0.0, float("-inf"))


class JsonSchemaLogitsProcessor(GrammarLogitsProcessor):
    """Constrains generation to JSON valid under ``schema`` (dict, JSON text or pydantic model).

    ``model`` gives the logits width and the EOS ids; ``compile_options`` go to
    :func:`enforcer.compile_json_schema` (``whitespace``, ``property_order``, ``strict``).
    ``max_new_tokens`` (default: the model's ``generation_config.max_new_tokens``) is the budget
    the output completes within (see :class:`GrammarLogitsProcessor`); ``budget=False`` opts out.
    """

    def __init__(self, schema: Any, tokenizer: Any, model: Any = None, *, max_new_tokens: int | None = None,
                 budget: bool = True, **compile_options: Any):
        vocab = Vocabulary.from_pretrained(tokenizer, model=model)
        super().__init__(compile_json_schema(schema, vocab, **compile_options),
                         max_new_tokens=budget_for(max_new_tokens, model, budget))


class ToolCallLogitsProcessor(GrammarLogitsProcessor):
    """Constrains generation to tool calls (or text, as ``tool_choice`` says) in ``format``.

    ``tools``: OpenAI tool objects, pydantic model classes or typed functions; ``options`` go to
    :func:`enforcer.compile_tools` (``tool_choice``, ``parallel_tool_calls``, ``format``,
    ``reasoning``, ``whitespace``, ...). Read the calls back with :func:`enforcer.parse_tool_calls`.

    Example::

        processor = ToolCallLogitsProcessor(tools, tokenizer, model=model, tool_choice="required")
        out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=128)
        calls = parse_tool_calls(out[0, prompt_length:].tolist(), tools, vocab=processor.grammar.vocab)
    """

    def __init__(self, tools: Any, tokenizer: Any, model: Any = None, *, max_new_tokens: int | None = None,
                 budget: bool = True, **options: Any):
        vocab = Vocabulary.from_pretrained(tokenizer, model=model)
        super().__init__(compile_tools(tools, vocab, **options), max_new_tokens=budget_for(max_new_tokens, model, budget))


def build_prefix_allowed_tokens_fn(tokenizer: Any, schema_or_grammar: Any, *, model: Any = None,
                                   max_new_tokens: int | None = None, budget: bool = True,
                                   **compile_options: Any) -> Callable[[int, torch.Tensor], list[int]]:
    """A function for ``generate(prefix_allowed_tokens_fn=...)``, the lm-format-enforcer way.

    Returns allowed ids inside the model's vocabulary (its logits width). The first call of a
    batch row fixes its prompt; a call whose tokens do not extend that prompt starts a new request,
    so one function may serve several ``generate`` calls one after the other. ``max_new_tokens``
    and ``budget``: as for :class:`JsonSchemaLogitsProcessor`.
    """
    limit = budget_for(max_new_tokens, model, budget)
    if isinstance(schema_or_grammar, Grammar):
        grammar = schema_or_grammar
    else:
        vocab = Vocabulary.from_pretrained(tokenizer, model=model)
        grammar = compile_json_schema(schema_or_grammar, vocab, **compile_options)
    trackers: dict[int, tuple[tuple[int, ...], _RowTracker]] = {}
    eos = sorted(grammar.vocab.eos_token_ids)

    def prefix_allowed_tokens_fn(batch_id: int, input_ids: torch.Tensor) -> list[int]:
        tokens = tuple(input_ids.tolist())  # a failed row (a forbidden token) gets the EOS ids only
        entry = trackers.get(batch_id)
        if entry is None or tokens[: len(entry[0])] != entry[0]:  # a new request in this row
            entry = trackers[batch_id] = (tokens, _RowTracker(grammar, max_tokens=limit))
        prompt, tracker = entry
        matcher = tracker.matcher_for(tokens[len(prompt):])
        if matcher is None:
            return eos
        return matcher.allowed_token_ids()

    return prefix_allowed_tokens_fn
