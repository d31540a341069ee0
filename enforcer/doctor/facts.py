"""Gather what a model's files say about its vocabulary, EOS, padding and chat template.

A model's EOS and vocabulary live in several files that are written by different tools and drift
apart when a model is fine-tuned, merged or converted: ``config.json``, ``generation_config.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, ``tokenizer.json``, the chat template
(inside ``tokenizer_config.json``, or ``chat_template.jinja``/``.json``), the weights (the real
width of the logits) and, for llama.cpp, the GGUF metadata. This module only reads them, with no
framework (no torch, no transformers): every source is recorded with its name so that the checks
can say *which* file disagrees. Weights are never loaded: the logits width comes from a safetensors
header (8 bytes of length, then JSON) or a GGUF tensor record.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EnforcerError
from .gguf import GGUFError, GGUFInfo, read_gguf


class ModelFilesError(EnforcerError, ValueError):
    """The path given is not a model: no such path, a folder without model files, a file that is
    not a ``.gguf``, or a model file that cannot be parsed."""


# GGUF token types (llama.cpp's llama_token_type)
GGUF_CONTROL, GGUF_USER_DEFINED = 3, 4


@dataclass
class Source:
    """One file's (or one key's) answer, with the label a report shows."""

    label: str
    ids: list[int]
    text: str | None = None  # the token text the file named, when it names a token by text


@dataclass
class ModelFacts:
    """Everything the checks look at; ``None`` where the files do not say."""

    path: Path
    kind: str                                    # "folder" or "gguf"
    logits_width: int | None = None
    width_source: str = ""
    config_vocab_size: int | None = None
    tokenizer_length: int | None = None
    eos: list[Source] = field(default_factory=list)
    pad: list[Source] = field(default_factory=list)
    special_tokens: dict[str, int] = field(default_factory=dict)  # text -> id (special/added tokens)
    token_ids: dict[str, int] = field(default_factory=dict)       # text -> id, every token we can name
    token_text: dict[int, str] = field(default_factory=dict)      # id -> text, for the ids we report
    chat_template: str | None = None
    template_source: str = ""
    generation_config: dict | None = None        # the file as it is, for the suggested fix
    bos_text: str | None = None
    eos_text: str | None = None
    files: list[str] = field(default_factory=list)  # what was read
    gguf: GGUFInfo | None = None

    def text_of(self, token_id: int) -> str:
        text = self.token_text.get(token_id)
        return f"{token_id} {text!r}" if text is not None else str(token_id)


def as_ids(value: Any) -> list[int]:
    """``None`` -> ``[]``, an int -> ``[int]``, a list -> its ints (bools and junk dropped)."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def _token_content(value: Any) -> str | None:
    """``"<|eot_id|>"`` or ``{"content": "<|eot_id|>", ...}`` (a serialised AddedToken)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def read_model(path: str | Path) -> ModelFacts:
    """Read the model at ``path``: a folder (Hugging Face layout, or holding one ``.gguf``) or a
    ``.gguf`` file. Raises :class:`ModelFilesError` (or :class:`GGUFError`) with one line to act on."""
    path = Path(path)
    if not path.exists():
        raise ModelFilesError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelFilesError(f"{path}: not a model folder or a .gguf file")
        return _read_gguf_model(path)
    if not (path / "config.json").is_file():
        ggufs = sorted(p for p in path.glob("*.gguf") if p.is_file())
        if len(ggufs) == 1:
            return _read_gguf_model(ggufs[0])
        if len(ggufs) > 1:
            names = ", ".join(p.name for p in ggufs[:5])
            raise ModelFilesError(f"{path} holds {len(ggufs)} .gguf files ({names}): name one")
        if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
            raise ModelFilesError(f"{path} is not a model folder: no config.json, tokenizer.json, "
                                  "tokenizer_config.json or .gguf file in it")
    return _read_folder(path)


def config_eos_ids(folder: str | Path) -> set[int]:
    """The EOS ids ``config.json`` (and its ``text_config``) and ``generation_config.json`` in
    ``folder`` name; empty when there are no such files. Unreadable files are skipped: this is a
    second source for adapters whose framework may have kept only one id."""
    ids: set[int] = set()
    for name in ("config.json", "generation_config.json"):
        try:
            data = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            ids.update(as_ids(data.get("eos_token_id")))
            if isinstance(data.get("text_config"), dict):
                ids.update(as_ids(data["text_config"].get("eos_token_id")))
    return ids


# -- Hugging Face folders ----------------------------------------------------------------------

def _load_json(path: Path, facts: ModelFacts) -> Any:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFilesError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ModelFilesError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                              f"{exc.colno})") from None
    facts.files.append(path.name)
    return data


def _read_folder(path: Path) -> ModelFacts:
    facts = ModelFacts(path=path, kind="folder")
    config = _load_json(path / "config.json", facts) or {}
    generation = _load_json(path / "generation_config.json", facts)
    tok_config = _load_json(path / "tokenizer_config.json", facts) or {}
    special_map = _load_json(path / "special_tokens_map.json", facts) or {}
    tokenizer = _load_json(path / "tokenizer.json", facts)
    facts.generation_config = generation if isinstance(generation, dict) else None

    vocab = _read_tokenizer_tokens(facts, tokenizer, tok_config)
    text_config = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}

    # EOS, in the order a reader meets them
    for owner, label in ((config, "config.json eos_token_id"),
                         (text_config, "config.json text_config.eos_token_id"),
                         (facts.generation_config or {}, "generation_config.json eos_token_id")):
        if owner.get("eos_token_id") is not None:
            facts.eos.append(Source(label, as_ids(owner.get("eos_token_id"))))
    for owner, label in ((config, "config.json pad_token_id"), (text_config, "config.json text_config.pad_token_id"),
                         (facts.generation_config or {}, "generation_config.json pad_token_id")):
        if owner.get("pad_token_id") is not None:
            facts.pad.append(Source(label, as_ids(owner.get("pad_token_id"))))
    for owner, name in ((tok_config, "tokenizer_config.json"), (special_map, "special_tokens_map.json")):
        for key, target in (("eos_token", facts.eos), ("pad_token", facts.pad)):
            text = _token_content(owner.get(key))
            if text is None:
                continue
            token_id = vocab.get(text)
            target.append(Source(f"{name} {key}", [token_id] if token_id is not None else [], text))
            if key == "eos_token" and facts.eos_text is None:
                facts.eos_text = text
        if facts.bos_text is None:
            facts.bos_text = _token_content(owner.get("bos_token"))

    facts.token_ids = vocab
    named = {i for s in facts.eos + facts.pad for i in s.ids} - set(facts.token_text)
    if named:
        facts.token_text.update({i: t for t, i in vocab.items() if i in named})
    facts.chat_template, facts.template_source = _folder_template(path, tok_config, facts)
    facts.config_vocab_size = _int(config.get("vocab_size")) or _int(text_config.get("vocab_size"))
    rows = _safetensors_head_rows(path, facts)
    if rows is not None:
        facts.logits_width, facts.width_source = rows
    elif facts.config_vocab_size is not None:
        facts.logits_width = facts.config_vocab_size
        facts.width_source = "config.json vocab_size (no safetensors weights to read)"
    return facts


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_tokenizer_tokens(facts: ModelFacts, tokenizer: Any, tok_config: dict) -> dict[str, int]:
    """text -> id for every token we can name; records the special/added tokens and the length."""
    vocab: dict[str, int] = {}
    max_id = -1
    if isinstance(tokenizer, dict):
        model = tokenizer.get("model") or {}
        table = model.get("vocab")
        if isinstance(table, dict):
            vocab.update({t: i for t, i in table.items() if isinstance(i, int)})
        elif isinstance(table, list):  # Unigram: [[piece, score], ...]
            vocab.update({entry[0]: i for i, entry in enumerate(table) if entry})
        max_id = max(vocab.values(), default=-1)
        for token in tokenizer.get("added_tokens") or []:
            if isinstance(token, dict) and isinstance(token.get("id"), int) and isinstance(token.get("content"), str):
                vocab[token["content"]] = token["id"]
                facts.special_tokens[token["content"]] = token["id"]
                max_id = max(max_id, token["id"])
        if max_id >= 0:
            facts.tokenizer_length = max_id + 1
    decoder = tok_config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        for key, token in decoder.items():
            text = _token_content(token)
            if text is not None and str(key).isdigit():
                vocab.setdefault(text, int(key))
                facts.special_tokens.setdefault(text, int(key))
    for text, token_id in facts.special_tokens.items():
        facts.token_text.setdefault(token_id, text)
    return vocab


def _folder_template(path: Path, tok_config: dict, facts: ModelFacts) -> tuple[str | None, str]:
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        facts.files.append(jinja.name)
        return jinja.read_text(encoding="utf-8", errors="replace"), jinja.name
    data = _load_json(path / "chat_template.json", facts)
    if isinstance(data, dict) and isinstance(data.get("chat_template"), str):
        return data["chat_template"], "chat_template.json"
    template = tok_config.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    if isinstance(template, str):
        return template, "tokenizer_config.json chat_template"
    return None, ""


def _safetensors_header(file: Path) -> dict:
    with open(file, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelFilesError(f"{file}: truncated safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > 100_000_000:
            raise ModelFilesError(f"{file}: not a safetensors file (header length {length})")
        try:
            return json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelFilesError(f"{file}: not a safetensors file (unreadable header)") from None


def _safetensors_head_rows(path: Path, facts: ModelFacts) -> tuple[int, str] | None:
    """Rows of the output layer (``*lm_head.weight``), or of the embeddings when they are tied."""
    index = _load_json(path / "model.safetensors.index.json", facts)
    if isinstance(index, dict) and isinstance(index.get("weight_map"), dict):
        weight_map = index["weight_map"]
    elif (path / "model.safetensors").is_file():
        weight_map = None
    else:
        return None
    headers: dict[str, dict] = {}

    def shape_of(name: str, file: str) -> list[int] | None:
        if file not in headers:
            headers[file] = _safetensors_header(path / file)
            facts.files.append(file)
        entry = headers[file].get(name)
        return entry.get("shape") if isinstance(entry, dict) else None

    names = list(weight_map) if weight_map is not None else None
    if names is None:
        headers["model.safetensors"] = _safetensors_header(path / "model.safetensors")
        facts.files.append("model.safetensors")
        names = [n for n in headers["model.safetensors"] if n != "__metadata__"]
    for suffix in ("lm_head.weight", "embed_tokens.weight", "wte.weight", "word_embeddings.weight"):
        for name in names:
            if name.endswith(suffix):
                shape = shape_of(name, weight_map[name] if weight_map else "model.safetensors")
                if shape and len(shape) == 2:
                    how = "" if suffix == "lm_head.weight" else " (tied to the output layer)"
                    return int(shape[0]), f"rows of {name}{how}"
    return None


# -- GGUF --------------------------------------------------------------------------------------

def _read_gguf_model(path: Path) -> ModelFacts:
    try:
        info = read_gguf(path)
    except GGUFError:
        raise
    except OSError as exc:
        raise ModelFilesError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    facts = ModelFacts(path=path, kind="gguf", gguf=info, files=[path.name])
    tokens = info.get("tokenizer.ggml.tokens") or []
    types = info.get("tokenizer.ggml.token_type")
    facts.tokenizer_length = len(tokens) or None
    if types is not None:
        for i, kind in enumerate(types.tolist()):
            if kind in (GGUF_CONTROL, GGUF_USER_DEFINED) and i < len(tokens):
                facts.special_tokens[tokens[i]] = i
                facts.token_text[i] = tokens[i]
    for key in ("eos", "eot", "eom"):
        value = info.get(f"tokenizer.ggml.{key}_token_id")
        if value is not None:
            facts.eos.append(Source(f"GGUF tokenizer.ggml.{key}_token_id", as_ids(int(value))))
    pad = info.get("tokenizer.ggml.padding_token_id")
    if pad is not None:
        facts.pad.append(Source("GGUF tokenizer.ggml.padding_token_id", [int(pad)]))
    for key, attr in (("bos", "bos_text"), ("eos", "eos_text")):
        value = info.get(f"tokenizer.ggml.{key}_token_id")
        if value is not None and 0 <= int(value) < len(tokens):
            setattr(facts, attr, tokens[int(value)])
    for ids in [s.ids for s in facts.eos + facts.pad]:
        for i in ids:
            if 0 <= i < len(tokens):
                facts.token_text.setdefault(i, tokens[i])
    template = info.get("tokenizer.chat_template")
    if isinstance(template, str):
        facts.chat_template, facts.template_source = template, "GGUF tokenizer.chat_template"
    arch = info.architecture
    configured = info.get(f"{arch}.vocab_size") if arch else None
    facts.config_vocab_size = int(configured) if configured is not None else None
    rows = info.output_rows()
    if rows is not None:
        facts.logits_width = rows[0]
        facts.width_source = f"rows of tensor {rows[1]}" + (" (tied to the output layer)"
                                                              if rows[1] == "token_embd.weight" else "")
    facts.token_ids = {t: i for i, t in enumerate(tokens)}
    return facts
