"""What every embedder and vector cache provides, and the one error they raise."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


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
