"""The checks ``enforcer doctor`` runs over :class:`~.facts.ModelFacts`, and the fix it suggests.

Each check stands for a bug report from the field:

* ``eos-disagree``: config, generation config and tokenizer name different EOS ids, and the
  generation config (what ``generate`` uses) does not hold them all (a Llama 3.1 fine-tune that
  stopped wrongly; MLX-LM reading one id of a list).
* ``eot-missing``: the chat template ends assistant turns with a token that is not an EOS id: the
  model writes it and generation goes on.
* ``pad-is-eos``: the pad token is an EOS token. Harmless when generating, a trap when
  fine-tuning: collators mask pad positions out of the labels, so the model is never taught to
  write EOS and learns not to stop.
* ``head-narrow`` / ``eos-out-of-range``: the tokenizer has ids the model's logits cannot produce.
* ``head-padded`` (a note, not a problem): the logits are wider than the tokenizer (Llama 3.2
  Vision, Qwen). Legal, but a mask sized from the tokenizer is narrower than the logits (the
  lm-format-enforcer crash); enforcer sizes masks from the head.
* ``single-id`` (a note): what a reader that keeps one EOS id would pick, and what it would miss.

Problems make ``enforcer doctor`` exit 1; notes do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .facts import ModelFacts
from .template import end_of_turn

PROBLEM, NOTE = "problem", "note"

# Tokens llama.cpp treats as end of generation by their text alone (src/llama-vocab.cpp, the list
# that fills special_eog_ids), so a GGUF model stops on them whatever its metadata says.
LLAMA_CPP_EOG_NAMES = frozenset({
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>", "[e~[",
})
# Pad tokens worth suggesting when pad is EOS, best first.
_PAD_NAMES = ("<|finetune_right_pad_id|>", "<|pad|>", "<pad>", "[PAD]", "<|padding|>", "<|fim_pad|>",
              "<|vision_pad|>", "<|endoftext|>", "<unk>")


@dataclass
class Finding:
    level: str   # PROBLEM or NOTE
    code: str
    message: str


@dataclass
class Diagnosis:
    facts: ModelFacts
    eos_set: list[int]
    end_of_turn: tuple[str, int | None] | None        # (text, id) the template ends turns with
    end_of_turn_how: str = ""
    findings: list[Finding] = field(default_factory=list)
    fix: dict | None = None                           # suggested generation_config.json
    fix_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.level == PROBLEM for f in self.findings)


def diagnose(facts: ModelFacts) -> Diagnosis:
    """Run every check; the EOS set is the union of every source plus the template's end token."""
    union = sorted({i for s in facts.eos for i in s.ids})
    by_name: list[int] = []
    if facts.kind == "gguf":
        by_name = sorted(i for t, i in facts.token_ids.items() if t in LLAMA_CPP_EOG_NAMES)
        for i in by_name:
            facts.token_text.setdefault(i, next(t for t, j in facts.token_ids.items() if j == i))
    eot = None
    eot_how = ""
    if facts.chat_template:
        text, eot_how = end_of_turn(facts.chat_template, facts.special_tokens, bos_token=facts.bos_text,
                                    eos_token=facts.eos_text)
        if text is not None:
            eot = (text, facts.token_ids.get(text, facts.special_tokens.get(text)))
            if eot[1] is not None:
                facts.token_text.setdefault(eot[1], text)
    d = Diagnosis(facts, union, eot, eot_how)
    _check_width(d)
    _check_eos(d, by_name)
    _check_pad(d)
    _single_id_readers(d)
    _suggest_fix(d, by_name)
    return d


def _ids(d: Diagnosis, ids) -> str:
    return ", ".join(d.facts.text_of(i) for i in ids) or "none"


def _check_width(d: Diagnosis) -> None:
    f = d.facts
    width, length = f.logits_width, f.tokenizer_length
    if width is None:
        d.findings.append(Finding(NOTE, "width-unknown", "logits width unknown (no safetensors weights, no "
                                  "config vocab_size): pass the model to Vocabulary.from_pretrained"))
    if f.config_vocab_size is not None and width is not None and f.config_vocab_size != width:
        d.findings.append(Finding(PROBLEM, "width-config", f"config vocab_size is {f.config_vocab_size} but the "
                                  f"output layer has {width} rows ({f.width_source}): readers that trust the "
                                  "config size masks wrongly"))
    if width is None or length is None:
        return
    if width > length:
        d.findings.append(Finding(NOTE, "head-padded", f"padded head: the logits are {width} wide "
                                  f"({f.width_source}), the tokenizer has {length} ids; ids {length}..{width - 1} "
                                  "have no token. A mask sized from the tokenizer is too narrow for these logits "
                                  f"(lm-format-enforcer's crash): size masks {width} wide (enforcer does)"))
    elif width < length:
        d.findings.append(Finding(PROBLEM, "head-narrow", f"the tokenizer has {length} ids but the logits are only "
                                  f"{width} wide ({f.width_source}): ids {width}..{length - 1} can never be generated"))
    out = [i for i in d.eos_set if i >= min(width, length)]
    if out:
        d.findings.append(Finding(PROBLEM, "eos-out-of-range", f"EOS id(s) {out} are past the vocabulary "
                                  f"(tokenizer {length} ids, logits {width} wide)"))


def _check_eos(d: Diagnosis, by_name: list[int]) -> None:
    f = d.facts
    if not d.eos_set:
        d.findings.append(Finding(PROBLEM, "eos-missing", "no EOS id in any of " + ", ".join(f.files)))
    for source in f.eos:
        if source.text is not None and not source.ids:
            d.findings.append(Finding(PROBLEM, "eos-unknown-token", f"{source.label} names {source.text!r}, "
                                      "which is not a token of tokenizer.json"))
    sets = {s.label: sorted(set(s.ids)) for s in f.eos if s.ids}
    differ = len({tuple(v) for v in sets.values()}) > 1
    if f.kind == "folder" and sets:
        generation = sets.get("generation_config.json eos_token_id")
        listing = "; ".join(f"{label}: [{_ids(d, ids)}]" for label, ids in sets.items())
        if generation is None and differ:
            d.findings.append(Finding(PROBLEM, "eos-disagree", f"the EOS sources disagree and there is no "
                                      f"generation_config.json eos_token_id to settle it ({listing})"))
        elif generation is not None and set(generation) != set(d.eos_set):
            missing = sorted(set(d.eos_set) - set(generation))
            d.findings.append(Finding(PROBLEM, "eos-disagree", "generation_config.json (what generate uses) "
                                      f"lacks EOS id(s) other files name: {_ids(d, missing)} ({listing})"))
        elif differ:
            d.findings.append(Finding(NOTE, "eos-sources", f"the EOS sources differ, and generation_config.json "
                                      f"holds them all ({listing})"))
    if f.kind == "gguf" and sets:
        listing = "; ".join(f"{label}: [{_ids(d, ids)}]" for label, ids in sets.items())
        extra = sorted(set(by_name) - set(d.eos_set))
        note = f"; llama.cpp also ends generation on {_ids(d, extra)} (known by their text)" if extra else ""
        d.findings.append(Finding(NOTE, "eos-sources", f"end-of-generation ids: {listing}{note}"))
    if d.end_of_turn is not None:
        text, token_id = d.end_of_turn
        if token_id is None:
            d.findings.append(Finding(PROBLEM, "eot-unknown", f"the chat template ends turns with {text!r}, "
                                      "which is not a token of the tokenizer"))
        elif token_id not in d.eos_set and not (f.kind == "gguf" and token_id in by_name):
            d.findings.append(Finding(PROBLEM, "eot-missing", f"the chat template ({f.template_source}) ends "
                                      f"assistant turns with {f.text_of(token_id)}, which is not in the EOS set "
                                      f"[{_ids(d, d.eos_set)}]: the model writes it and generation goes on"))
    elif f.chat_template:
        d.findings.append(Finding(NOTE, "eot-unknown", "could not tell which token ends a turn in the chat template"))


def _check_pad(d: Diagnosis) -> None:
    eos = set(d.eos_set)
    if d.end_of_turn is not None and d.end_of_turn[1] is not None:
        eos.add(d.end_of_turn[1])
    for source in d.facts.pad:
        clash = [i for i in source.ids if i in eos]
        if clash:
            d.findings.append(Finding(PROBLEM, "pad-is-eos", f"{source.label} is {_ids(d, clash)}, an EOS token: "
                                      "harmless for generation, but fine-tuning masks pad positions out of the "
                                      "labels, so the model is never taught to write EOS and learns not to stop"))


def _single_id_readers(d: Diagnosis) -> None:
    """What a reader that keeps one id (``tokenizer.eos_token_id``, ``eos_token_id[0]`` or ``[-1]``
    of a list) would stop on, when that differs from the full set."""
    f = d.facts
    wanted = set(d.eos_set)
    if d.end_of_turn is not None and d.end_of_turn[1] is not None:
        wanted.add(d.end_of_turn[1])
    if len(wanted) < 2:
        return
    picks: list[str] = []
    for source in f.eos:
        if not source.ids:
            continue
        if len(source.ids) == 1:
            picks.append(f"{source.label} -> {f.text_of(source.ids[0])}")
        else:
            picks.append(f"{source.label}[0] -> {f.text_of(source.ids[0])}, [-1] -> {f.text_of(source.ids[-1])}")
    eot = d.end_of_turn[1] if d.end_of_turn else None
    warn = ""
    if eot is not None:
        single = [s for s in f.eos if len(s.ids) == 1 and s.ids[0] != eot]
        if single:
            warn = (f"; one that takes {single[0].label} never stops at the end of a turn "
                    f"({f.text_of(eot)})")
    d.findings.append(Finding(NOTE, "single-id", f"the EOS set has {len(wanted)} ids; a reader that keeps one "
                              f"id gets: {'; '.join(picks)}{warn}. Pass the whole set (enforcer's Vocabulary "
                              "does)"))


def _suggest_fix(d: Diagnosis, by_name: list[int]) -> None:
    if d.ok:
        return
    f = d.facts
    eos = set(d.eos_set)
    if d.end_of_turn is not None and d.end_of_turn[1] is not None:
        eos.add(d.end_of_turn[1])
    pad = None
    pad_clash = any(c.code == "pad-is-eos" for c in d.findings)
    if pad_clash:
        for name in _PAD_NAMES:
            if name in f.special_tokens and f.special_tokens[name] not in eos:
                pad = (name, f.special_tokens[name])
                break
    if f.kind == "folder":
        fix = dict(f.generation_config or {})
        ordered = sorted(eos)
        fix["eos_token_id"] = ordered if len(ordered) != 1 else ordered[0]
        if pad_clash:
            if pad is not None:
                fix["pad_token_id"] = pad[1]
                d.fix_notes.append(f"for fine-tuning also set tokenizer_config.json \"pad_token\": \"{pad[0]}\" "
                                   "(and config.json pad_token_id)")
            else:
                fix.pop("pad_token_id", None)
                d.fix_notes.append("for fine-tuning add a pad token that is not EOS "
                                   "(tokenizer.add_special_tokens({'pad_token': '<pad>'}), then resize the embeddings)")
        d.fix = fix
        return
    # GGUF: the metadata is fixed at conversion; llama.cpp overrides it at load time.
    meta = f.gguf.metadata if f.gguf is not None else {}
    eot = d.end_of_turn[1] if d.end_of_turn else None
    if eot is not None and eot not in set(d.eos_set) | set(by_name):
        d.fix_notes.append(f"llama.cpp: --override-kv tokenizer.ggml.eot_token_id=int:{eot}")
    if pad_clash:
        if pad is not None:
            d.fix_notes.append(f"llama.cpp: --override-kv tokenizer.ggml.padding_token_id=int:{pad[1]}")
        else:
            d.fix_notes.append("fine-tuning: give the source model a pad token that is not EOS before converting")
    d.fix_notes.append("or fix the source model's generation_config.json and convert it again")
    if "tokenizer.ggml.eos_token_id" in meta:
        d.fix = {"eos_token_id": sorted(eos) if len(eos) != 1 else min(eos)}
        if pad is not None:
            d.fix["pad_token_id"] = pad[1]


def report_text(d: Diagnosis) -> str:
    """The human report ``enforcer doctor`` prints."""
    f = d.facts
    lines = [f"{f.path} ({'GGUF file' if f.kind == 'gguf' else 'model folder'}; read: {', '.join(f.files)})"]
    width = f"{f.logits_width} ({f.width_source})" if f.logits_width is not None else "unknown"
    lines.append(f"  logits width:     {width}")
    lines.append(f"  tokenizer length: {f.tokenizer_length if f.tokenizer_length is not None else 'unknown'}")
    for source in f.eos:
        shown = _ids(d, source.ids) if source.ids else f"{source.text!r} (not a token)"
        lines.append(f"  EOS  {source.label}: {shown}")
    for source in f.pad:
        lines.append(f"  pad  {source.label}: {_ids(d, source.ids) if source.ids else repr(source.text)}")
    if d.end_of_turn is not None:
        text, token_id = d.end_of_turn
        lines.append(f"  end of turn ({f.template_source}): {f.text_of(token_id) if token_id is not None else repr(text)}"
                     f" [{d.end_of_turn_how}]")
    elif not f.chat_template:
        lines.append("  chat template: none")
    lines.append(f"  EOS set (union):  [{_ids(d, d.eos_set)}]")
    for finding in d.findings:
        lines.append(f"{finding.level.upper():8}{finding.code}: {finding.message}")
    if d.ok:
        lines.append("consistent: no problem found")
    else:
        count = sum(1 for x in d.findings if x.level == PROBLEM)
        lines.append(f"{count} problem(s) found")
        if d.fix is not None:
            lines.append("suggested generation_config.json:" if f.kind == "folder" else
                         "suggested generation_config.json for the source model:")
            lines.extend("  " + line for line in format_config(d.fix).splitlines())
        lines.extend(f"also: {note}" for note in d.fix_notes)
    return "\n".join(lines)


def format_config(config: dict) -> str:
    """A JSON object with one key per line and compact values (EOS lists stay on one line)."""
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in config.items())
    return "{\n" + body + "\n}" if body else "{}"


def report_json(d: Diagnosis) -> dict:
    f = d.facts
    return {"path": str(f.path), "kind": f.kind, "ok": d.ok, "logits_width": f.logits_width,
            "tokenizer_length": f.tokenizer_length, "eos_set": d.eos_set,
            "eos_sources": {s.label: s.ids for s in f.eos}, "pad_sources": {s.label: s.ids for s in f.pad},
            "end_of_turn": None if d.end_of_turn is None else {"text": d.end_of_turn[0], "id": d.end_of_turn[1]},
            "findings": [{"level": x.level, "code": x.code, "message": x.message} for x in d.findings],
            "suggested_generation_config": d.fix, "also": d.fix_notes}
