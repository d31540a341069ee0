"""llama.cpp through llama-cpp-python: a ``LogitsProcessor`` for ``Llama.create_completion`` and
friends, with the vocabulary read from the loaded ``llama_cpp.Llama`` itself.

Example::

    from llama_cpp import Llama, LogitsProcessorList
    from enforcer.integrations.llamacpp import JsonSchemaLogitsProcessor

    llm = Llama(model_path="model.gguf")
    processor = JsonSchemaLogitsProcessor(schema, llm)
    out = llm.create_completion(prompt, max_tokens=256, temperature=0,
                                logits_processor=LogitsProcessorList([processor]))

Why the vocabulary comes from llama.cpp and not from a Hugging Face tokenizer: a GGUF file carries
its own tokenizer, and what the model can emit is what llama.cpp decodes. Each token's bytes are
``llama_token_to_piece`` with special rendering off (byte-level BPE and SentencePiece ``▁`` and
``<0xNN>`` pieces come out as the raw bytes); tokens llama.cpp marks CONTROL are special (never
spelled out; a grammar may still name them by their text); UNUSED and UNKNOWN tokens get no bytes.
The EOS set is every id for which ``llama_vocab_is_eog`` holds, which is what generation stops on:
the metadata's ``eos``, ``eot`` and ``eom`` ids and the end tokens llama.cpp knows by name
(``<|eot_id|>``, ``<|im_end|>``, ``<|endoftext|>``...), so a multi-id EOS set is honoured as
llama.cpp itself honours it. The width is ``n_vocab``, the width of llama.cpp's logits.

Masking is numpy on the candidate logits llama-cpp-python hands its custom sampler (in id order,
one per vocabulary entry): :func:`apply_token_bitmask_inplace` unpacks the packed bitmask with
``np.unpackbits`` and writes ``-inf`` where a token is not allowed. A processor follows one request
at a time (``_follow.SequenceFollower``): a new prompt starts a new request.
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

import numpy as np

from enforcer import (Grammar, Vocabulary, VocabularyError, compile_grammar, compile_json_schema, compile_regex,
                      compile_tools)

from ._follow import SequenceFollower

__all__ = ["GbnfLogitsProcessor", "GrammarLogitsProcessor", "JsonSchemaLogitsProcessor", "RegexLogitsProcessor",
           "ToolCallLogitsProcessor", "apply_token_bitmask_inplace", "build_vocabulary"]

# llama.h's llama_token_attr bits
_ATTR_UNKNOWN, _ATTR_UNUSED, _ATTR_CONTROL = 1 << 0, 1 << 1, 1 << 3


def apply_token_bitmask_inplace(scores: np.ndarray, bitmask: np.ndarray, *, vocab_size: int) -> np.ndarray:
    """Set ``scores[i]`` to ``-inf`` for every token ``i`` the bitmask does not allow; returns
    ``scores``. ``scores``: 1-d (one row, any stride) or 2-d ``(rows, width)`` float array;
    ``bitmask``: ``(rows, words)`` or ``(words,)`` int32. Columns past ``vocab_size`` are masked;
    scores narrower than the vocabulary raise :class:`~enforcer.VocabularyError`."""
    rows = scores if scores.ndim == 2 else scores[None]
    packed = np.asarray(bitmask, dtype=np.int32)
    packed = packed if packed.ndim == 2 else packed[None]
    width = rows.shape[1]
    if width < vocab_size:
        raise VocabularyError(f"logits are {width} wide but the vocabulary has {vocab_size} tokens: build the "
                              "Vocabulary from the Llama whose logits these are")
    if packed.shape[1] * 32 < vocab_size:
        raise VocabularyError(f"bitmask has {packed.shape[1]} words per row, {vocab_size} tokens need "
                              f"{(vocab_size + 31) // 32}")
    bits = np.unpackbits(np.ascontiguousarray(packed[: rows.shape[0]]).view(np.uint8), axis=1, bitorder="little")
    forbidden = bits[:, :vocab_size] == 0
    for row in range(rows.shape[0]):
        np.putmask(rows[row, :vocab_size], forbidden[row], -np.inf)
    if width > vocab_size:
        rows[:, vocab_size:] = -np.inf
    return scores


# -- vocabulary --------------------------------------------------------------------------------

def _llama_cpp():
    import llama_cpp

    return llama_cpp


def _vocab_handle(llm: Any) -> Any:
    model = getattr(llm, "_model", None)
    vocab = getattr(model, "vocab", None)
    if vocab is None:
        raise VocabularyError("expected a llama_cpp.Llama (llama-cpp-python 0.3.x with a loaded model)")
    return vocab


def _piece(lib: Any, vocab: Any, token: int, buffer: Any) -> bytes:
    n = lib.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
    if n < 0:  # the piece is longer than the buffer: -n bytes are needed
        bigger = ctypes.create_string_buffer(-n)
        n = lib.llama_token_to_piece(vocab, token, bigger, len(bigger), 0, False)
        return bigger.raw[:n]
    return buffer.raw[:n]


_VOCABS: "weakref.WeakKeyDictionary[Any, Vocabulary]" = weakref.WeakKeyDictionary()


def build_vocabulary(llm: Any) -> Vocabulary:
    """The :class:`enforcer.Vocabulary` of a loaded ``llama_cpp.Llama`` (kept per ``Llama``)."""
    try:
        found = _VOCABS.get(llm)
    except TypeError:
        found = None
    if found is not None:
        return found
    lib = _llama_cpp()
    vocab = _vocab_handle(llm)
    n = int(lib.llama_vocab_n_tokens(vocab))
    buffer = ctypes.create_string_buffer(64)
    pieces: list[bytes | None] = []
    special: dict[int, str] = {}
    eos: set[int] = set()
    for token in range(n):
        attr = int(lib.llama_vocab_get_attr(vocab, token))
        if lib.llama_vocab_is_eog(vocab, token):
            eos.add(token)
        if attr & _ATTR_CONTROL:
            special[token] = lib.llama_vocab_get_text(vocab, token).decode("utf-8", errors="replace")
            pieces.append(None)
        elif attr & (_ATTR_UNKNOWN | _ATTR_UNUSED):
            pieces.append(None)
        else:
            piece = _piece(lib, vocab, token, buffer)
            pieces.append(piece or None)
    metadata = getattr(llm, "metadata", None) or {}
    for key in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"):
        value = metadata.get(key)
        if value is not None and str(value).lstrip("-").isdigit() and 0 <= int(value) < n:
            eos.add(int(value))
    for token in eos:  # an EOS id is never text
        if pieces[token] is not None:
            special.setdefault(token, pieces[token].decode("utf-8", errors="replace"))
            pieces[token] = None
    width = int(llm.n_vocab()) if hasattr(llm, "n_vocab") else n
    result = Vocabulary.from_token_bytes(pieces, eos_token_ids=sorted(eos), size=max(width, n), special_text=special)
    try:
        _VOCABS[llm] = result
    except TypeError:
        pass
    return result


# -- processors --------------------------------------------------------------------------------

class GrammarLogitsProcessor:
    """A llama-cpp-python logits processor: ``processor(input_ids, scores) -> scores`` with every
    token the grammar forbids at ``-inf`` (in place); EOS only when the output is complete.

    Args:
        grammar: a compiled :class:`enforcer.Grammar` whose vocabulary came from this model
            (:func:`build_vocabulary`); it may be shared by many processors.
    """

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self._follower = SequenceFollower(grammar)
        self._bitmask = np.zeros((1, (grammar.vocab.size + 31) // 32), dtype=np.int32)

    @property
    def matcher(self):
        """The matcher of the current request."""
        return self._follower.matcher

    def reset(self) -> None:
        """Start a new request at the next call even if its prompt equals the last one."""
        self._follower.reset()

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        matcher = self._follower.sync(input_ids)
        matcher.fill_next_token_bitmask(self._bitmask)
        return apply_token_bitmask_inplace(scores, self._bitmask, vocab_size=self.grammar.vocab.size)


class JsonSchemaLogitsProcessor(GrammarLogitsProcessor):
    """JSON valid under ``schema``; ``options`` go to :func:`enforcer.compile_json_schema`."""

    def __init__(self, schema: Any, llm: Any, **options: Any):
        super().__init__(compile_json_schema(schema, build_vocabulary(llm), **options))


class RegexLogitsProcessor(GrammarLogitsProcessor):
    """Output matching ``pattern`` as a whole (:func:`enforcer.compile_regex`)."""

    def __init__(self, pattern: str, llm: Any):
        super().__init__(compile_regex(pattern, build_vocabulary(llm)))


class GbnfLogitsProcessor(GrammarLogitsProcessor):
    """Output in the GBNF grammar ``text``: the same grammar text ``LlamaGrammar.from_string``
    takes, compiled by enforcer (:func:`enforcer.compile_grammar`)."""

    def __init__(self, text: str, llm: Any, *, start: str = "root"):
        super().__init__(compile_grammar(text, build_vocabulary(llm), start=start))


class ToolCallLogitsProcessor(GrammarLogitsProcessor):
    """Tool calls as :func:`enforcer.compile_tools` describes (``tool_choice``, ``format``, ...)."""

    def __init__(self, tools: Any, llm: Any, **options: Any):
        super().__init__(compile_tools(tools, build_vocabulary(llm), **options))
