"""Vector caching and batching in front of any embedder: each distinct text is embedded once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np
from seedscope.embeddings.base import Embedder, EmbeddingError, VectorCache, text_sha256


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
