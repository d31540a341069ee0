"""The command line: clear one-line errors and exit codes; a real generation with SmolLM2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "enforcer", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_check_a_shipped_schema():
    result = run("check", "--schema", "schemas/order.schema.json")
    assert result.returncode == 0, result.stderr
    assert "every keyword is enforced exactly" in result.stdout


def test_check_names_unsupported_keywords_with_pointers(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True},
                                                                   "rows": {"type": "array", "items": {
                                                                       "type": "array", "uniqueItems": True}}}}))
    result = run("check", "--schema", str(schema))
    assert result.returncode == 1
    assert "'uniqueItems' at #/properties/tags" in result.stdout and "'uniqueItems' at #/properties/rows/items" in result.stdout


def test_check_lists_unknown_keywords(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"name": {"type": "string", "maxLenght": 5}}}))
    result = run("check", "--schema", str(schema))
    assert result.returncode == 1
    assert "'maxLenght' at #/properties/name: unknown keyword, ignored" in result.stdout
    assert "every other keyword is enforced exactly" in result.stdout


@pytest.mark.parametrize("content, code, message", [
    (None, 2, "schema file not found"),
    ("{not json", 2, "is not valid JSON: Expecting property name"),
    (json.dumps({"type": "strin"}), 2, "'type' at #/type"),
    (json.dumps({"type": "array", "uniqueItems": True}), 1, "'uniqueItems' at #"),
    (json.dumps({"not": {}}), 2, "admits no value"),
])
def test_errors_are_one_line(tmp_path, content, code, message):
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    result = run("generate", "--schema", str(path))
    assert result.returncode == code
    lines = [line for line in result.stderr.splitlines() if line.startswith("enforcer: error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_generate_with_the_default_model():
    result = run("generate", "--schema", "schemas/person.schema.json", "--max-new-tokens", "200")
    assert result.returncode == 0, result.stderr
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    jsonschema.validate(json.loads(result.stdout), schema)
    assert "loading model" in result.stderr and "ended on EOS" in result.stderr


def test_check_tools():
    result = run("check", "--tools", "examples/tools.json", "--tool-choice", "required")
    assert result.returncode == 0, result.stderr
    assert "every keyword is enforced exactly" in result.stdout


@pytest.mark.parametrize("tools, options, message", [
    ([{"type": "function", "function": {"parameters": {"type": "object"}}}], [], "needs a non-empty 'name'"),
    ([{"type": "function", "function": {"name": "f"}}], ["--tool-choice", "g"], "'g', which is not one of the tools"),
])
def test_tool_errors_are_one_line(tmp_path, tools, options, message):
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(tools))
    result = run("generate", "--tools", str(path), *options)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("enforcer: error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.slow
def test_generate_tool_calls_with_the_default_model():
    result = run("generate", "--tools", "examples/tools.json", "--tool-choice", "calculate",
                 "--prompt", "How much is 12 * 7?", "--max-new-tokens", "96")
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout.strip().splitlines()[-1])
    assert [c["name"] for c in calls] == ["calculate"]
    assert "tool call(s), arguments valid" in result.stderr


GBNF_DIR = ROOT / "tests" / "grammar" / "gbnf"


def test_check_a_sample_grammar():
    result = run("check", "--grammar", str(GBNF_DIR / "json.gbnf"))
    assert result.returncode == 0, result.stderr
    assert "json.gbnf: 7 rules, start rule 'root': compiles" in result.stdout


@pytest.mark.parametrize("content, message, context", [
    (None, "grammar file not found", None),
    ('root ::= "a" (\n', "g.gbnf: line 1, column 14: this '(' is never closed", 'root ::= "a" ('),
    ('root ::= valu\nvalue ::= "x"\n', "undefined rule 'valu' (did you mean 'value'?)", "root ::= valu"),
    ('root ::= expr\nexpr ::= expr "+" "1" | "1"\n', "left recursion in rule 'expr' (line 2)", None),
    ('start ::= "a"\n', "no rule 'root' to start from", None),
])
def test_grammar_errors(tmp_path, content, message, context):
    path = tmp_path / "g.gbnf"
    if content is not None:
        path.write_text(content)
    for command in ("check", "generate"):
        result = run(command, "--grammar", str(path))
        assert result.returncode == 2
        lines = [line for line in result.stderr.splitlines() if line.startswith("enforcer: error:")]
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert "Traceback" not in result.stderr and "loading model" not in result.stderr
        if context:  # the offending line, then a caret under the column
            after = result.stderr.splitlines()[result.stderr.splitlines().index(lines[0]) + 1:]
            assert after[0].strip() == context and after[1].strip() == "^"


def test_schema_and_grammar_exclude_each_other():
    result = run("check", "--schema", "schemas/order.schema.json", "--grammar", str(GBNF_DIR / "json.gbnf"))
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


@pytest.mark.slow
def test_generate_with_a_grammar(tmp_path):
    """chess.gbnf with its open-ended "+" bounded, so a greedy model has to stop."""
    from enforcer.grammar.gbnf import parse_gbnf
    from tests.ir_oracle import matches

    text = (GBNF_DIR / "chess.gbnf").read_text().replace('"\\n")+', '"\\n"){1,2}')
    assert "{1,2}" in text
    path = tmp_path / "chess3.gbnf"
    path.write_text(text)
    result = run("generate", "--grammar", str(path), "--max-new-tokens", "120",
                 "--prompt", "Write the first moves of a chess game in PGN notation.")
    assert result.returncode == 0, result.stdout + result.stderr
    assert matches(parse_gbnf(text), result.stdout), result.stdout
    assert result.stdout.startswith("1. ") and "ended on EOS" in result.stderr


# -- inputs that must fail in one line, before any model is loaded -----------------------------

def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("enforcer: error:")]


@pytest.mark.parametrize("args, message", [
    (["--max-new-tokens", "0"], "--max-new-tokens must be at least 1 (got 0)"),
    (["--temperature", "-0.5"], "--temperature must be 0 (greedy) or more"),
    (["--top-p", "0"], "--top-p must be in (0, 1]"),
    (["--repetition-penalty", "0"], "--repetition-penalty must be positive"),
    (["--prompt", "x", "--prompts", "p.jsonl"], "--prompt and --prompts exclude each other"),
    (["--model", "/nonexistent/model"], "model not found: /nonexistent/model"),
])
def test_bad_options_are_one_line(args, message):
    result = run("generate", "--schema", "schemas/person.schema.json", *args)
    assert result.returncode == 2, result.stderr
    assert len(error_lines(result)) == 1 and message in error_lines(result)[0], result.stderr
    assert "Traceback" not in result.stderr and "loading model" not in result.stderr


def test_non_utf8_schema_file(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"title": "Café"}'.encode("latin-1"))
    for command in ("check", "generate"):
        result = run(command, "--schema", str(path))
        assert result.returncode == 2
        assert error_lines(result) == [f"enforcer: error: {path} is not UTF-8 text: invalid continuation byte "
                                       "at byte 14"], result.stderr


@pytest.mark.parametrize("name, content, message", [
    (None, None, "is not a model folder: no config.json and no .gguf file in it"),
    ("empty.gguf", b"", "empty file (0 bytes), not a GGUF model"),
    ("t.gguf", b"GGUF\x03\x00\x00\x00\x05", "truncated GGUF header"),
    ("weights.bin", b"x", "expected a model folder or a .gguf file"),
])
def test_paths_that_are_not_models(tmp_path, name, content, message):
    (tmp_path / "README.md").write_text("not a model")
    target = tmp_path
    if name is not None:
        target = tmp_path / name
        target.write_bytes(content)
    result = run("generate", "--schema", "schemas/person.schema.json", "--model", str(target))
    assert result.returncode == 2
    assert len(error_lines(result)) == 1 and message in error_lines(result)[0], result.stderr
    assert "Traceback" not in result.stderr and "loading model" not in result.stderr


def test_a_folder_whose_config_does_not_load(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    result = run("generate", "--schema", "schemas/person.schema.json", "--model", str(tmp_path), "--quiet")
    assert result.returncode == 2
    assert len(error_lines(result)) == 1 and f"cannot load the model from {tmp_path}" in error_lines(result)[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content, message", [
    ("", "holds no prompt"),
    ('{"prompt": "a"}\n{"prompt": \n', "line 2: not valid JSON"),
    ('{"prompt": "a"}\n\n{"text": "b"}\n', 'line 3: expected {"prompt": "..."} or a JSON string'),
    ('"  "\n', "line 1: the prompt is empty"),
])
def test_bad_prompt_files(tmp_path, content, message):
    path = tmp_path / "p.jsonl"
    path.write_text(content)
    result = run("generate", "--schema", "schemas/person.schema.json", "--prompts", str(path))
    assert result.returncode == 2
    assert len(error_lines(result)) == 1 and message in error_lines(result)[0], result.stderr


def test_check_regex():
    assert run("check", "--regex", r"\d{4}-\d{2}-\d{2}").returncode == 0
    bad = run("check", "--regex", "(ab")
    assert bad.returncode == 2 and len(error_lines(bad)) == 1, bad.stderr
    unsupported = run("check", "--regex", r"(a)\1")
    assert unsupported.returncode == 1 and len(error_lines(unsupported)) == 1, unsupported.stderr


# -- pieces of generate that need no model ------------------------------------------------------

def test_find_loop():
    from enforcer.cli.generate import find_loop

    assert find_loop([1, 2, 3] + [7, 8] * 6) == (2, 6)
    assert find_loop([5] * 12) == (1, 12)
    assert find_loop(list(range(40))) is None
    assert find_loop([1, 2, 1, 2, 1, 2]) is None  # too short to call it a loop


class _Tokenizer:
    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def test_progress_streams_text_then_a_summary():
    import io

    from enforcer.cli.progress import Progress

    stream = io.StringIO()
    progress = Progress(_Tokenizer(), {0}, stream=stream, live=False)
    progress.put(__import__("numpy").array([[1, 2, 3]]))  # the prompt: not shown
    for token in b'{"a": 1}':
        progress.put([token])
    progress.put([0])  # EOS
    progress.end()
    assert stream.getvalue() == '{"a": 1}\n'
    assert len(progress.tokens) == 9 and progress.summary("done").startswith("9 tokens in ")


def test_progress_on_a_terminal_redraws_one_line():
    import io

    from enforcer.cli.progress import Progress

    stream = io.StringIO()
    progress = Progress(_Tokenizer(), {0}, stream=stream, live=True, label="1/2: ")
    progress.put([9])
    for token in b"hello":
        progress.put([token])
    progress.end()
    out = stream.getvalue()
    assert out.startswith("\r\033[K[enforcer] 1/2: 1 tokens, 0.0 tokens/s | h")
    assert "5 tokens" in out and "| hello" in out and out.endswith("\r\033[K")


# -- real generation with the default model ------------------------------------------------------

@pytest.mark.slow
def test_generate_streams_progress():
    result = run("generate", "--schema", "schemas/person.schema.json", "--max-new-tokens", "200")
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)
    assert json.dumps(value, separators=(",", ":")) in result.stderr  # the text, streamed as it came
    assert re.search(r"\[enforcer\] \d+ tokens in [\d.]+ s \([\d.]+ tokens/s\), valid JSON, ended on EOS",
                     result.stderr), result.stderr


@pytest.mark.slow
def test_many_prompts_one_model_load(tmp_path):
    prompts = tmp_path / "people.jsonl"
    prompts.write_text('{"id": "lisbon", "prompt": "A person who lives in Lisbon, as JSON."}\n'
                       '"A retired teacher, as JSON."\n'
                       '{"id": 3, "prompt": "A young programmer, as JSON."}\n')
    result = run("generate", "--schema", "schemas/person.schema.json", "--prompts", str(prompts),
                 "--temperature", "0.7", "--top-p", "0.9", "--seed", "7", "--repetition-penalty", "1.1",
                 "--max-new-tokens", "200")
    assert result.returncode == 0, result.stderr
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["lisbon", 2, 3]
    for record in records:
        jsonschema.validate(record["value"], schema)
        assert record["finish_reason"] == "stop" and json.loads(record["output"]) == record["value"]
    assert result.stderr.count("loading model") == 1 and "3/3: " in result.stderr
    again = run("generate", "--schema", "schemas/person.schema.json", "--prompts", str(prompts),
                "--temperature", "0.7", "--top-p", "0.9", "--seed", "7", "--repetition-penalty", "1.1",
                "--max-new-tokens", "200", "--quiet")
    assert again.returncode == 0 and again.stderr == ""
    assert [r["output"] for r in map(json.loads, again.stdout.splitlines())] == [r["output"] for r in records]


@pytest.mark.slow
def test_regex_and_a_budget_too_small():
    result = run("generate", "--regex", r"\d{4}-\d{2}-\d{2}", "--prompt", "When did Apollo 11 land? YYYY-MM-DD.")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\n", result.stdout)
    short = run("generate", "--schema", "schemas/person.schema.json", "--max-new-tokens", "4")
    assert short.returncode == 1
    [line] = error_lines(short)
    assert re.fullmatch(r"enforcer: error: the shortest valid output is \d+ tokens \(EOS included\) with this "
                        r"model's vocabulary, more than --max-new-tokens 4: raise --max-new-tokens", line), line
    cut = run("generate", "--schema", "schemas/person.schema.json", "--max-new-tokens", "4", "--no-budget")
    assert cut.returncode == 1
    assert error_lines(cut) == ["enforcer: error: generation stopped at --max-new-tokens 4 before the output was "
                                "complete (4 tokens, no loop found): raise --max-new-tokens"]


@pytest.mark.slow
def test_a_looping_model_is_told_apart():
    """Without the budget the loop runs out of tokens; with it (the default) the output ends
    complete within them."""
    result = run("generate", "--regex", "(ab)+c", "--prompt", "Write ab ab ab ab ab ab ab ab ab ab forever.",
                 "--max-new-tokens", "40", "--no-budget")
    assert result.returncode == 1
    [line] = error_lines(result)
    assert "the model is looping" in line and "--repetition-penalty 1.2" in line, line


@pytest.mark.slow
def test_the_budget_ends_a_loop_complete():
    result = run("generate", "--regex", "(ab)+c", "--prompt", "Write ab ab ab ab ab ab ab ab ab ab forever.",
                 "--max-new-tokens", "40")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"(ab)+c\n", result.stdout), result.stdout


@pytest.mark.slow
def test_generate_without_fast_forward_is_valid_too():
    result = run("generate", "--schema", "schemas/person.schema.json", "--max-new-tokens", "200",
                 "--no-fast-forward", "--quiet")
    assert result.returncode == 0, result.stderr
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    jsonschema.validate(json.loads(result.stdout), schema)
