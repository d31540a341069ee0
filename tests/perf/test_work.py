"""The work-count gate: the engine must not do more work on the fixed corpus than the baseline
says (see tests/perf/work.py). Counts, not times, so it cannot flake on a busy machine."""

from __future__ import annotations

import json

from tests.perf.work import BASELINE, compare, measure


def test_work_on_the_corpus_does_not_grow(llama3_vocab, llama3_tokenizer):
    current = measure(llama3_vocab, llama3_tokenizer)
    assert current["tokens"] > 1000 and current["masks"] > 0 and current["derivations"] > 0
    baseline = json.loads(BASELINE.read_text())
    worse, better = compare(current, baseline)
    assert not worse, ("the engine does more work than tests/perf/work_baseline.json allows: "
                       + "; ".join(worse) + ". If that is the price of a fix, say so in the commit and run "
                       "python -m tests.perf.work --update")
    if better:
        print("less work than the baseline (python -m tests.perf.work --update to ratchet):", "; ".join(better))
