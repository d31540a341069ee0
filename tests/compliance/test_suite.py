"""The JSON Schema Test Suite may only improve: every test passing in the baseline must pass."""

from __future__ import annotations

import json

import pytest

from .run_suite import BASELINE, SUITE, run, suite_files, table

BASE = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}


@pytest.fixture(scope="module")
def results(llama3_vocab, llama3_tokenizer):
    return run(llama3_vocab, llama3_tokenizer)


def test_baseline_covers_every_suite_file():
    assert BASE, "tests/compliance/baseline.json is missing: run python -m tests.compliance.run_suite --update"
    assert set(BASE) == {str(p.relative_to(SUITE)) for p in suite_files()}


@pytest.mark.parametrize("name", sorted(BASE))
def test_no_regression(results, name):
    result, base = results[name], BASE[name]
    lost = sorted(set(base["passing"]) - set(result.passing))
    assert not lost, f"{name}: tests passing in the baseline now fail: {lost}\n{table({name: result})}"
    for key in ("compiled", "valid_accepted", "invalid_rejected"):
        assert getattr(result, key) >= base[key], f"{name}: {key} fell from {base[key]} to {getattr(result, key)}"
