"""Reading the exact bytes of every token out of the tokenizer families people actually use.

A constrained decoder works on bytes: what the model emits when it samples a token. Tokenizers do
not store that directly, each family hides it differently:

* byte-level BPE (GPT-2, Llama 3, SmolLM2, Qwen's HF files): token strings are bytes mapped to
  printable characters by GPT-2's ``bytes_to_unicode`` table, which we invert;
* SentencePiece (Llama 2, Mistral v1-v7): ``▁`` stands for a space and ``<0xNN>`` pieces are raw
  bytes (byte fallback), so a single token may be half of a UTF-8 character;
* tiktoken (Qwen, Mistral Tekken, OpenAI): ranks are already byte strings.

Each family gets a small adapter with the same four answers (how many ids, the bytes of each,
which ids are special, which ids the tokenizer calls EOS) and a cheap *source key* used to find a
cached copy without re-reading the whole vocabulary. Adapters are picked by duck typing so this
module imports no framework: a transformers tokenizer is recognised by its ``backend_tokenizer``,
not by ``isinstance``.

Special tokens (control tokens, ``<|eot_id|>``, ``[INST]``) get no bytes: a grammar never produces
them by spelling them out. Their text is kept so a grammar may still name one on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import VocabularyError

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
SPACE_MARKER = "\u2581"  # SentencePiece's "▁"


def _gpt2_byte_decoder() -> dict[int, int]:
    """Inverse of GPT-2's ``bytes_to_unicode``: printable stand-in code point -> byte."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    stand_ins = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in stand_ins:
            stand_ins[b] = 256 + extra
            extra += 1
    return {cp: b for b, cp in stand_ins.items()}


# str.translate table that maps each stand-in character to the latin-1 character of its byte, so
# that ``piece.translate(_GPT2_TO_LATIN1).encode("latin-1")`` gives the token bytes at C speed.
_GPT2_TO_LATIN1 = {cp: chr(b) for cp, b in _gpt2_byte_decoder().items()}


@dataclass
class RawVocab:
    """What an adapter reads: per id either bytes, or ``None`` (special, or no token at that id)."""

    pieces: list[bytes | None]
    special_text: dict[int, str] = field(default_factory=dict)


class TokenizerAdapter:
    """The four questions the vocabulary asks of a tokenizer family."""

    kind = "abstract"

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self) -> RawVocab:
        raise NotImplementedError

    def eos_token_ids(self) -> set[int]:
        return set()

    def source_key(self) -> str:
        """A cheap key identifying this vocabulary's source, for the on-disk cache."""
        raise NotImplementedError

    def read_ids(self, ids: list[int]) -> dict[int, bytes | None]:
        """Bytes of a few ids, read one by one: lets a cache hit be checked against the source."""
        raise NotImplementedError


def _file_identity(path: str | os.PathLike | None) -> str | None:
    """``path:size:mtime`` of a file, the same cheap staleness test Python uses for ``.pyc`` files."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


class HuggingFaceAdapter(TokenizerAdapter):
    """transformers fast tokenizers and bare ``tokenizers.Tokenizer`` objects."""

    kind = "huggingface"

    def __init__(self, tokenizer: Any):
        super().__init__(tokenizer)
        self.backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
        self._decoder_spec: dict | None = None

    def __len__(self) -> int:
        try:
            return len(self.tokenizer)
        except TypeError:
            return self.backend.get_vocab_size(with_added_tokens=True)

    def _added_tokens(self) -> dict[int, Any]:
        decoder = getattr(self.tokenizer, "added_tokens_decoder", None)
        if decoder is None and hasattr(self.backend, "get_added_tokens_decoder"):
            decoder = self.backend.get_added_tokens_decoder()
        return dict(decoder or {})

    def _special_ids(self, added: dict[int, Any]) -> set[int]:
        special = {i for i, tok in added.items() if getattr(tok, "special", False)}
        special.update(getattr(self.tokenizer, "all_special_ids", None) or ())
        return special

    def decoder_spec(self) -> dict:
        if self._decoder_spec is None:
            decoder = self.backend.decoder
            # The decoder pickles to its JSON spec: microseconds, where to_str() of the whole
            # tokenizer takes ~150 ms on a 128k vocabulary.
            self._decoder_spec = json.loads(decoder.__getstate__()) if decoder is not None else {}
        return self._decoder_spec

    def _piece_decoder(self):
        """Return a function piece -> bytes, chosen from the backend's decoder pipeline."""
        spec = self.decoder_spec()
        kinds = [spec.get("type")] + [d.get("type") for d in spec.get("decoders", [])]
        if "ByteLevel" in kinds:
            def byte_level(piece: str) -> bytes:
                try:
                    return piece.translate(_GPT2_TO_LATIN1).encode("latin-1")
                except UnicodeEncodeError:  # a character outside the byte table: take it literally
                    return piece.encode("utf-8")
            return byte_level
        replaces_marker = any(
            d.get("type") == "Replace" and d.get("pattern", {}).get("String") == SPACE_MARKER
            for d in [spec, *spec.get("decoders", [])]
        ) or "Metaspace" in kinds
        byte_fallback = "ByteFallback" in kinds
        if replaces_marker or byte_fallback:
            def sentencepiece(piece: str) -> bytes:
                if byte_fallback:
                    m = _BYTE_PIECE.match(piece)
                    if m:
                        return bytes([int(m.group(1), 16)])
                return piece.replace(SPACE_MARKER, " ").encode("utf-8")
            return sentencepiece
        raise VocabularyError(
            f"unsupported tokenizer decoder {kinds!r}: enforcer reads byte-level BPE, SentencePiece "
            "and tiktoken vocabularies; pass a tokenizer of one of those families"
        )

    def read(self) -> RawVocab:
        decode_piece = self._piece_decoder()
        added = self._added_tokens()
        special = self._special_ids(added)
        n = max(len(self), max(added, default=-1) + 1)
        pieces: list[bytes | None] = [None] * n
        for piece, i in self.backend.get_vocab(with_added_tokens=False).items():
            if i not in special:
                pieces[i] = decode_piece(piece)
        special_text: dict[int, str] = {}
        for i, tok in added.items():
            content = getattr(tok, "content", str(tok))
            if i in special:
                pieces[i] = None
                special_text[i] = content
            else:  # a plain added token is matched on raw text, before any byte mapping
                pieces[i] = content.encode("utf-8")
        return RawVocab(pieces, special_text)

    def read_ids(self, ids: list[int]) -> dict[int, bytes | None]:
        decode_piece = self._piece_decoder()
        added = self._added_tokens()
        special = self._special_ids(added)
        out: dict[int, bytes | None] = {}
        for i in ids:
            if i in special:
                out[i] = None
            elif i in added:
                out[i] = getattr(added[i], "content", str(added[i])).encode("utf-8")
            else:
                piece = self.backend.id_to_token(i)
                out[i] = None if piece is None else decode_piece(piece)
        return out

    def eos_token_ids(self) -> set[int]:
        eos = getattr(self.tokenizer, "eos_token_id", None)
        return set(_as_ids(eos))

    def source_key(self) -> str:
        init = getattr(self.tokenizer, "init_kwargs", {}) or {}
        files = [init.get("tokenizer_file"), init.get("vocab_file"), getattr(self.tokenizer, "vocab_file", None)]
        folder = getattr(self.tokenizer, "name_or_path", None) or init.get("name_or_path")
        gguf = init.get("gguf_file")
        if folder and gguf:
            files.append(os.path.join(folder, gguf))
        if folder and os.path.isdir(str(folder)):
            files.append(os.path.join(folder, "tokenizer.json"))
        identities = sorted({fid for fid in map(_file_identity, files) if fid})
        added_tokens = self._added_tokens()
        added = sorted(
            (i, getattr(t, "content", str(t)), bool(getattr(t, "special", False)))
            for i, t in added_tokens.items()
        )
        # The files say nothing of what was changed at run time: a pad_token set to an ordinary
        # token, special tokens added or flagged. Which ids are special decides which ids have
        # bytes, so the state as it is now is part of the key.
        special = sorted(self._special_ids(added_tokens))
        if identities:
            source = json.dumps(identities)
        else:  # built in memory: hash what it is made of (slower, but still cheaper than a rebuild)
            source = self.backend.to_str()
        return _digest(self.kind, type(self.tokenizer).__name__, str(len(self)), source, json.dumps(added),
                       json.dumps(special))


class TiktokenAdapter(TokenizerAdapter):
    """A ``tiktoken.Encoding``, or an object that wraps one (Qwen's ``QwenTokenizer``)."""

    kind = "tiktoken"

    def __init__(self, tokenizer: Any, encoding: Any):
        super().__init__(tokenizer)
        self.encoding = encoding

    def __len__(self) -> int:
        return int(self.encoding.n_vocab)

    def _special(self) -> dict[int, str]:
        return {int(i): str(t) for t, i in getattr(self.encoding, "_special_tokens", {}).items()}

    def read(self) -> RawVocab:
        special = self._special()
        pieces: list[bytes | None] = [None] * max(len(self), max(special, default=-1) + 1)
        for token, rank in self.encoding._mergeable_ranks.items():
            pieces[rank] = bytes(token)
        for i in special:
            pieces[i] = None
        return RawVocab(pieces, special)

    def read_ids(self, ids: list[int]) -> dict[int, bytes | None]:
        special = self._special()
        out: dict[int, bytes | None] = {}
        for i in ids:
            try:
                out[i] = None if i in special else self.encoding.decode_single_token_bytes(i)
            except KeyError:
                out[i] = None
        return out

    def eos_token_ids(self) -> set[int]:
        for name in ("eos_token_id", "eod_id"):
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return set(_as_ids(value))
        eot = getattr(self.encoding, "eot_token", None)
        return {int(eot)} if eot is not None else set()

    def source_key(self) -> str:
        path = getattr(self.tokenizer, "_vocab_file", None) or getattr(self.tokenizer, "vocab_file", None)
        identity = _file_identity(path)
        if identity is None:
            h = hashlib.sha256()
            for token, rank in sorted(self.encoding._mergeable_ranks.items(), key=lambda kv: kv[1]):
                h.update(token + b"\0" + str(rank).encode())
            identity = h.hexdigest()
        return _digest(self.kind, getattr(self.encoding, "name", ""), str(len(self)), identity,
                       json.dumps(sorted(self._special().items())))


class TekkenAdapter(TokenizerAdapter):
    """Mistral's Tekken tokenizer: ``num_special_tokens`` control ids, then tiktoken ranks."""

    kind = "tekken"

    def __len__(self) -> int:
        return int(self.tokenizer.n_words)

    def read(self) -> RawVocab:
        t = self.tokenizer
        n_special = int(t.num_special_tokens)
        pieces: list[bytes | None] = [None] * len(self)
        for token, rank in t._model._mergeable_ranks.items():
            pieces[rank + n_special] = bytes(token)
        return RawVocab(pieces, {i: t.id_to_piece(i) for i in range(n_special)})

    def read_ids(self, ids: list[int]) -> dict[int, bytes | None]:
        n_special = int(self.tokenizer.num_special_tokens)
        return {i: None if i < n_special else self.tokenizer.id_to_byte_piece(i) for i in ids}

    def eos_token_ids(self) -> set[int]:
        return {int(self.tokenizer.eos_id)}

    def source_key(self) -> str:
        identity = _file_identity(getattr(self.tokenizer, "file_path", None)) or str(id(self.tokenizer))
        return _digest(self.kind, str(len(self)), identity, str(self.tokenizer.num_special_tokens))


class SentencePieceAdapter(TokenizerAdapter):
    """A ``sentencepiece.SentencePieceProcessor`` (also inside mistral-common and slow HF tokenizers)."""

    kind = "sentencepiece"

    def __init__(self, tokenizer: Any, processor: Any):
        super().__init__(tokenizer)
        self.sp = processor

    def __len__(self) -> int:
        return int(self.sp.get_piece_size())

    def _piece(self, i: int) -> bytes | None:
        sp = self.sp
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            return None
        piece = sp.id_to_piece(i)
        if sp.is_byte(i):
            return bytes([int(_BYTE_PIECE.match(piece).group(1), 16)])
        return piece.replace(SPACE_MARKER, " ").encode("utf-8")

    def _special_text(self) -> dict[int, str]:
        sp = self.sp
        return {i: sp.id_to_piece(i) for i in range(len(self))
                if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i)}

    def read(self) -> RawVocab:
        return RawVocab([self._piece(i) for i in range(len(self))], self._special_text())

    def read_ids(self, ids: list[int]) -> dict[int, bytes | None]:
        return {i: self._piece(i) if 0 <= i < len(self) else None for i in ids}

    def eos_token_ids(self) -> set[int]:
        for owner in (self.tokenizer, self.sp):
            for name in ("eos_token_id", "eos_id"):
                value = getattr(owner, name, None)
                value = value() if callable(value) else value
                if value is not None and value != -1:
                    return set(_as_ids(value))
        return set()

    def source_key(self) -> str:
        return _digest(self.kind, hashlib.sha256(self.sp.serialized_model_proto()).hexdigest())


def _as_ids(value: Any) -> list[int]:
    """An EOS setting as a list of ints: configs hold an int, a list of ints, or None."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [int(v) for v in value if v is not None]
    return [int(value)]


def adapt(tokenizer: Any) -> TokenizerAdapter:
    """Pick the adapter for ``tokenizer`` by what it has, not by what class it is."""
    # mistral-common's MistralTokenizer wraps the real one.
    inner = getattr(getattr(tokenizer, "instruct_tokenizer", None), "tokenizer", None)
    if inner is not None:
        return adapt(inner)
    if hasattr(tokenizer, "backend_tokenizer") or (
        hasattr(tokenizer, "get_vocab") and hasattr(tokenizer, "to_str") and hasattr(tokenizer, "id_to_token")
    ):
        return HuggingFaceAdapter(tokenizer)
    if hasattr(tokenizer, "num_special_tokens") and hasattr(tokenizer, "id_to_byte_piece"):
        return TekkenAdapter(tokenizer)
    if hasattr(tokenizer, "_mergeable_ranks") and hasattr(tokenizer, "decode_single_token_bytes"):
        return TiktokenAdapter(tokenizer, tokenizer)
    wrapped = getattr(tokenizer, "_tokenizer", None)
    if hasattr(wrapped, "_mergeable_ranks") and hasattr(wrapped, "decode_single_token_bytes"):
        return TiktokenAdapter(tokenizer, wrapped)
    for candidate in (tokenizer, getattr(tokenizer, "sp_model", None), getattr(tokenizer, "_model", None)):
        if candidate is not None and hasattr(candidate, "serialized_model_proto") and hasattr(candidate, "is_byte"):
            return SentencePieceAdapter(tokenizer, candidate)
    raise VocabularyError(
        f"cannot read token bytes from a {type(tokenizer).__name__}: pass a transformers tokenizer, "
        "a tokenizers.Tokenizer, a tiktoken Encoding, a sentencepiece processor or a mistral-common tokenizer"
    )
