"""A drop-in for code written against lm-format-enforcer, backed by enforcer's engine.

Change the imports, keep the calls::

    # from lmformatenforcer import JsonSchemaParser
    # from lmformatenforcer.integrations.transformers import build_transformers_prefix_allowed_tokens_fn
    from enforcer.integrations.lmformatenforcer import JsonSchemaParser, build_transformers_prefix_allowed_tokens_fn

    parser = JsonSchemaParser(AnswerFormat.model_json_schema())
    prefix_function = build_transformers_prefix_allowed_tokens_fn(hf_pipeline.tokenizer, parser)
    output = hf_pipeline(prompt, prefix_allowed_tokens_fn=prefix_function)

Like lm-format-enforcer, JSON may carry whitespace between tokens (here at most 8 characters per
gap, so a model cannot loop on newlines). Declared properties come in schema order (optional ones
may be skipped, undeclared ones follow): small models copy the schema text into the answer when
any key may come first. Unlike lm-format-enforcer, the
full EOS set of the model is honoured when ``build_token_enforcer_tokenizer_data`` gets the
model, and ``vocab_size`` sizes the vocabulary to the logits, not to the tokenizer.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from enforcer import Grammar, Vocabulary, compile_json_schema, compile_regex

from .transformers import build_prefix_allowed_tokens_fn

__all__ = ["CharacterLevelParser", "JsonSchemaParser", "RegexParser", "TokenEnforcerTokenizerData",
           "build_token_enforcer_tokenizer_data", "build_transformers_prefix_allowed_tokens_fn"]


class CharacterLevelParser:
    """What to enforce; compiled once per vocabulary when a prefix function is built."""

    def compile(self, vocab: Vocabulary) -> Grammar:
        raise NotImplementedError

    def grammar(self, vocab: Vocabulary) -> Grammar:
        cache = self.__dict__.setdefault("_grammars", {})
        grammar = cache.get(vocab.fingerprint)
        if grammar is None:
            grammar = cache[vocab.fingerprint] = self.compile(vocab)
        return grammar


class JsonSchemaParser(CharacterLevelParser):
    """``JsonSchemaParser(json_schema)``: JSON valid under the schema (a dict)."""

    def __init__(self, json_schema: Any, config: Any = None, **_ignored: Any):
        self.json_schema = json_schema

    def compile(self, vocab: Vocabulary) -> Grammar:
        return compile_json_schema(self.json_schema, vocab, whitespace="flexible", property_order="schema")


class RegexParser(CharacterLevelParser):
    """``RegexParser(pattern)``: text matching the regular expression as a whole."""

    def __init__(self, pattern: str, config: Any = None, **_ignored: Any):
        self.pattern = pattern

    def compile(self, vocab: Vocabulary) -> Grammar:
        return compile_regex(self.pattern, vocab)


class TokenEnforcerTokenizerData:
    """The tokenizer-derived data, built once and reused for many parsers."""

    def __init__(self, tokenizer: Any, vocab: Vocabulary):
        self.tokenizer = tokenizer
        self.vocab = vocab


def build_token_enforcer_tokenizer_data(tokenizer: Any, use_bitmask: bool = False, vocab_size: int | None = None,
                                        *, model: Any = None) -> TokenEnforcerTokenizerData:
    """Same call as lm-format-enforcer's; ``model=`` (ours) adds the logits width and EOS ids."""
    return TokenEnforcerTokenizerData(tokenizer, Vocabulary.from_pretrained(tokenizer, model=model,
                                                                            vocab_size=vocab_size))


def build_transformers_prefix_allowed_tokens_fn(
        tokenizer_data: Any, character_level_parser: CharacterLevelParser) -> Callable[[int, torch.Tensor], list[int]]:
    """Same call as lm-format-enforcer's: a tokenizer or tokenizer data, and a parser."""
    if not isinstance(tokenizer_data, TokenEnforcerTokenizerData):
        tokenizer_data = build_token_enforcer_tokenizer_data(tokenizer_data)
    grammar = character_level_parser.grammar(tokenizer_data.vocab)
    return build_prefix_allowed_tokens_fn(tokenizer_data.tokenizer, grammar)
