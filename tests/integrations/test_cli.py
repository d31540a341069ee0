"""The command line: clear one-line errors and exit codes; a real generation with SmolLM2."""

from __future__ import annotations

import json
import os
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
    schema.write_text(json.dumps({"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}},
                                  "if": {"required": ["a"]}, "then": {"required": ["b"]}}))
    result = run("check", "--schema", str(schema))
    assert result.returncode == 1
    assert "'uniqueItems' at #/properties/tags" in result.stdout and "'if' at #" in result.stdout


@pytest.mark.parametrize("content, code, message", [
    (None, 2, "schema file not found"),
    ("{not json", 2, "is not valid JSON: Expecting property name"),
    (json.dumps({"type": "strin"}), 2, "'type' at #/type"),
    (json.dumps({"not": {}}), 1, "'not' at #"),
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
