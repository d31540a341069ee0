"""Time to apply a packed bitmask to a 128k-wide batch of logits, on CPU (and CUDA if present).

Run: ``.venv/bin/python benchmarks/bench_masking.py``. Prints a table, exits 0.
"""

from __future__ import annotations

import time

import torch

from enforcer.masking import allocate_token_bitmask, apply_token_bitmask_inplace

VOCAB = 128_256


def timed(fn, repeats: int = 50) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> int:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{'device':<6} {'batch':>5} {'apply us':>10} {'us/row':>8}")
    for device in devices:
        for batch in (1, 8, 64):
            logits = torch.randn(batch, VOCAB + 8, device=device)
            bitmask = allocate_token_bitmask(batch, VOCAB)
            bitmask.random_(-2**31, 2**31 - 1)
            seconds = timed(lambda: apply_token_bitmask_inplace(logits, bitmask, vocab_size=VOCAB))
            print(f"{device:<6} {batch:>5} {seconds * 1e6:>10.1f} {seconds * 1e6 / batch:>8.1f}")
    print("\nbitmask on the host, copied once per call for the whole batch; logits 8 columns wider "
          "than the vocabulary (a padded head)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
