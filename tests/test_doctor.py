"""``enforcer doctor`` on model folders and GGUF files built here to reproduce each field report:
Llama 3.1's three EOS ids read differently by each file, a padded (and a too narrow) head, pad
equal to EOS, a chat template whose end-of-turn token is not EOS; and on the real SmolLM2 GGUF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enforcer.doctor import GGUFError, ModelFilesError, diagnose_model, read_gguf, report_json, report_text
from tests.conftest import LLAMA31_NAMES, LLAMA3_TOKENIZER_JSON, SMOLLM2_GGUF

ROOT = Path(__file__).resolve().parents[1]
LLAMA3_TEMPLATE = ("{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
                   "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
EOS31 = [128001, 128008, 128009]


@pytest.fixture(scope="module")
def llama31_tokenizer_json() -> dict:
    data = json.loads(Path(LLAMA3_TOKENIZER_JSON()).read_text(encoding="utf-8"))
    for token in data["added_tokens"]:
        token["content"] = LLAMA31_NAMES.get(token["id"], token["content"])
    return data


def write_head(folder: Path, rows: int, *, tied: bool = False) -> None:
    """A real safetensors file whose output layer has ``rows`` rows (one column: shapes matter)."""
    from safetensors.numpy import save_file

    tensors = {"model.embed_tokens.weight": np.zeros((rows, 1), np.float16)}
    if not tied:
        tensors["lm_head.weight"] = np.zeros((rows, 1), np.float16)
    save_file(tensors, str(folder / "model.safetensors"))


def llama31_folder(tmp_path: Path, tokenizer_json: dict, *, config_eos=EOS31, generation_eos=EOS31,
                   tokenizer_eos="<|eot_id|>", pad_token=None, generation_pad=None, rows=128_256,
                   template=LLAMA3_TEMPLATE, generation_config=True) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json), encoding="utf-8")
    config = {"architectures": ["LlamaForCausalLM"], "vocab_size": rows, "bos_token_id": 128000,
              "eos_token_id": config_eos}
    (folder / "config.json").write_text(json.dumps(config))
    if generation_config:
        generation = {"bos_token_id": 128000, "eos_token_id": generation_eos}
        if generation_pad is not None:
            generation["pad_token_id"] = generation_pad
        (folder / "generation_config.json").write_text(json.dumps(generation))
    tok_config = {"bos_token": "<|begin_of_text|>", "eos_token": tokenizer_eos, "chat_template": template,
                  "tokenizer_class": "PreTrainedTokenizerFast"}
    if pad_token is not None:
        tok_config["pad_token"] = pad_token
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    write_head(folder, rows)
    return folder


def codes(diagnosis, level=None) -> set[str]:
    return {f.code for f in diagnosis.findings if level is None or f.level == level}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enforcer", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=120)


def test_llama31_as_shipped_is_consistent(tmp_path, llama31_tokenizer_json):
    """config and generation config list all three ids; the tokenizer names only <|eot_id|>:
    consistent (generation_config.json holds the union), with notes on single-id readers."""
    d = diagnose_model(llama31_folder(tmp_path, llama31_tokenizer_json))
    assert d.ok, report_text(d)
    assert d.eos_set == EOS31
    assert d.end_of_turn == ("<|eot_id|>", 128009)
    assert d.facts.logits_width == d.facts.tokenizer_length == 128_256
    assert codes(d, "note") >= {"eos-sources", "single-id"}
    assert d.fix is None


def test_llama31_fine_tune_whose_files_disagree(tmp_path, llama31_tokenizer_json):
    """The field report: a fine-tune whose generation config kept one id and whose tokenizer says
    <|end_of_text|>: a reader taking tokenizer.eos_token_id never stops at <|eot_id|>."""
    folder = llama31_folder(tmp_path, llama31_tokenizer_json, generation_eos=128001,
                            tokenizer_eos="<|end_of_text|>")
    d = diagnose_model(folder)
    assert not d.ok
    assert "eos-disagree" in codes(d, "problem")
    single = next(f for f in d.findings if f.code == "single-id")
    assert "never stops at the end of a turn (128009 '<|eot_id|>')" in single.message
    assert d.fix == {"bos_token_id": 128000, "eos_token_id": EOS31}
    result = run_cli("doctor", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PROBLEM eos-disagree" in result.stdout and "128008 '<|eom_id|>'" in result.stdout
    assert '\n    "eos_token_id": [128001, 128008, 128009]\n' in result.stdout


def test_template_end_of_turn_missing_from_eos(tmp_path, llama31_tokenizer_json):
    """Every file agrees on <|end_of_text|>, but the template ends turns with <|eot_id|>."""
    folder = llama31_folder(tmp_path, llama31_tokenizer_json, config_eos=128001, generation_eos=128001,
                            tokenizer_eos="<|end_of_text|>")
    d = diagnose_model(folder)
    assert codes(d, "problem") == {"eot-missing"}
    assert d.fix["eos_token_id"] == [128001, 128009]


def test_padded_head_is_a_note_with_both_widths(tmp_path, llama31_tokenizer_json):
    """Llama 3.2 Vision's case: 128,264 rows of logits over a 128,256-id tokenizer."""
    d = diagnose_model(llama31_folder(tmp_path, llama31_tokenizer_json, rows=128_264))
    assert d.ok, report_text(d)
    padded = next(f for f in d.findings if f.code == "head-padded")
    assert "128264 wide" in padded.message and "128256 ids" in padded.message
    assert d.facts.width_source == "rows of lm_head.weight"


def test_narrow_head_and_eos_past_it(tmp_path, llama31_tokenizer_json):
    d = diagnose_model(llama31_folder(tmp_path, llama31_tokenizer_json, rows=128_000))
    assert {"head-narrow", "eos-out-of-range"} <= codes(d, "problem")


def test_tied_embeddings_and_a_config_that_lies(tmp_path, llama31_tokenizer_json):
    folder = llama31_folder(tmp_path, llama31_tokenizer_json)
    write_head(folder, 128_264, tied=True)  # config still says 128,256
    d = diagnose_model(folder)
    assert d.facts.logits_width == 128_264 and "tied" in d.facts.width_source
    assert "width-config" in codes(d, "problem")


def test_pad_equal_to_eos(tmp_path, llama31_tokenizer_json):
    """The fine-tuning trap; the fix names Llama 3.1's own pad token."""
    folder = llama31_folder(tmp_path, llama31_tokenizer_json, pad_token="<|eot_id|>", generation_pad=128009)
    d = diagnose_model(folder)
    assert codes(d, "problem") == {"pad-is-eos"}
    assert {f.message.split(" is ")[0] for f in d.findings if f.code == "pad-is-eos"} == {
        "generation_config.json pad_token_id", "tokenizer_config.json pad_token"}
    assert d.fix["pad_token_id"] == 128004
    assert any('"pad_token": "<|finetune_right_pad_id|>"' in note for note in d.fix_notes)
    assert report_json(d)["suggested_generation_config"]["eos_token_id"] == EOS31


def test_no_generation_config_and_disagreeing_files(tmp_path, llama31_tokenizer_json):
    folder = llama31_folder(tmp_path, llama31_tokenizer_json, config_eos=128001, generation_config=False)
    d = diagnose_model(folder)
    assert "eos-disagree" in codes(d, "problem")
    assert d.fix == {"eos_token_id": [128001, 128009]}


def test_smollm2_gguf(smollm2_dir):
    """The demo model's GGUF sets padding_token_id = eos_token_id = 2 (<|im_end|>)."""
    d = diagnose_model(smollm2_dir / SMOLLM2_GGUF)
    assert d.facts.kind == "gguf"
    assert d.facts.logits_width == d.facts.tokenizer_length == 49152
    assert d.end_of_turn == ("<|im_end|>", 2)
    assert d.eos_set == [2]
    assert codes(d, "problem") == {"pad-is-eos"}
    note = next(f for f in d.findings if f.code == "eos-sources")
    assert "0 '<|endoftext|>' (known by their text)" in note.message  # llama.cpp's own EOG list
    assert any("padding_token_id=int:0" in n for n in d.fix_notes)
    # A folder holding exactly one .gguf is that file.
    assert diagnose_model(smollm2_dir).facts.path.name == SMOLLM2_GGUF


@pytest.mark.slow
def test_gguf_reader_agrees_with_the_gguf_package(smollm2_dir):
    from gguf import GGUFReader

    path = smollm2_dir / SMOLLM2_GGUF
    ours = read_gguf(path)
    theirs = GGUFReader(str(path))
    for key in ("general.architecture", "tokenizer.ggml.eos_token_id", "tokenizer.chat_template", "llama.vocab_size"):
        assert ours.get(key) == theirs.fields[key].contents(), key
    assert ours.get("tokenizer.ggml.tokens") == theirs.fields["tokenizer.ggml.tokens"].contents()
    assert {t.name: tuple(int(x) for x in t.shape) for t in theirs.tensors} == ours.tensors


def _write_gguf(path: Path, tokens: list[str], types: list[int], *, eos: int, template: str, rows: int,
                pad: int | None = None) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_eos_token_id(eos)
    if pad is not None:
        writer.add_pad_token_id(pad)
    writer.add_chat_template(template)
    writer.add_tensor("output.weight", np.zeros((rows, 2), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


CHATML = ("{% for message in messages %}{{ '<|turn|>' + message['role'] + '\\n' + message['content'] + "
          "'<|turn_end|>' + '\\n' }}{% endfor %}")


def test_gguf_built_here_end_of_turn_not_eos_and_padded(tmp_path):
    """A converted model whose template ends turns with a token llama.cpp does not know by name
    and that no metadata key makes EOS; its output layer is wider than its token list."""
    tokens = ["<unk>", "<s>", "</s>", "<|turn|>", "<|turn_end|>"] + [chr(c) for c in range(97, 123)]
    types = [2, 3, 3, 3, 3] + [1] * 26
    path = _write_gguf(tmp_path / "m.gguf", tokens, types, eos=2, template=CHATML, rows=len(tokens) + 3)
    d = diagnose_model(path)
    assert d.end_of_turn == ("<|turn_end|>", 4)
    assert "eot-missing" in codes(d, "problem")
    assert "head-padded" in codes(d, "note")
    assert "llama.cpp: --override-kv tokenizer.ggml.eot_token_id=int:4" in d.fix_notes
    result = run_cli("doctor", str(path), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["end_of_turn"] == {"text": "<|turn_end|>", "id": 4}


def test_gguf_built_here_consistent(tmp_path):
    tokens = ["<unk>", "<s>", "</s>", "<|turn|>", "<|turn_end|>"] + [chr(c) for c in range(97, 123)]
    types = [2, 3, 3, 3, 3] + [1] * 26
    path = _write_gguf(tmp_path / "m.gguf", tokens, types, eos=4, template=CHATML, rows=len(tokens), pad=0)
    d = diagnose_model(path)
    assert d.ok, report_text(d)
    result = run_cli("doctor", str(path))
    assert result.returncode == 0 and "consistent: no problem found" in result.stdout


@pytest.mark.parametrize("content, message", [
    (b"", "empty file (0 bytes), not a GGUF model"),
    (b"GGUF\x03\x00", "truncated GGUF header"),
    (b"PK\x03\x04 a zip file", "not a GGUF file (it starts with b'PK\\x03\\x04'"),
    (b"GGUF\x01\x00\x00\x00" + b"\x00" * 16, "GGUF version 1 (2023) is not supported"),
])
def test_unreadable_gguf_is_one_line(tmp_path, content, message):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError, match="^" + str(path).replace(".", r"\.")):
        read_gguf(path)
    result = run_cli("doctor", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_paths_that_are_not_models(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFilesError, match="is not a model folder"):
        diagnose_model(tmp_path)
    for path, message in ((tmp_path, "is not a model folder"), (tmp_path / "missing", "no such file or folder"),
                          (tmp_path / "notes.txt", "not a model folder or a .gguf file")):
        result = run_cli("doctor", str(path))
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_broken_json_file_is_one_line(tmp_path, llama31_tokenizer_json):
    folder = llama31_folder(tmp_path, llama31_tokenizer_json)
    (folder / "generation_config.json").write_bytes(b"\xff\xfe{")
    result = run_cli("doctor", str(folder))
    assert result.returncode == 2 and "generation_config.json: not UTF-8 text" in result.stderr
