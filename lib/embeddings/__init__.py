"""Text embeddings: the embedded all-MiniLM-L6-v2 model, OpenAI-compatible APIs, and a cache.

`make_embedder` returns a `CachingEmbedder`, which every caller should use: it embeds each
distinct text once per call (50 identical outputs cost one encode), sends texts in batches,
and keeps vectors by (embedder id, sha256 of the text) so re-rendering a view never re-embeds.
"""

from __future__ import annotations

from typing import Literal

from seedscope.embeddings.base import Embedder, EmbeddingError, VectorCache, text_sha256
from seedscope.embeddings.cache import CachingEmbedder, MemoryVectorCache
from seedscope.embeddings.local import LOCAL_EMBEDDING_MODEL, LocalEmbedder, load_local_model
from seedscope.embeddings.openai import DEFAULT_OPENAI_EMBEDDING_MODEL, OpenAIEmbedder
from seedscope.settings import Settings

__all__ = [
    "DEFAULT_OPENAI_EMBEDDING_MODEL",
    "LOCAL_EMBEDDING_MODEL",
    "CachingEmbedder",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "MemoryVectorCache",
    "OpenAIEmbedder",
    "VectorCache",
    "load_local_model",
    "make_embedder",
    "text_sha256",
]


def make_embedder(
    settings: Settings,
    kind: Literal["local", "openai"] = "local",
    cache: VectorCache | None = None,
    *,
    base_url_origin: str | None = None,
) -> CachingEmbedder:
    """The embedder for `kind`, wrapped in a CachingEmbedder over `cache` (or a private one).

    `base_url_origin`: where settings.openai_base_url came from, for error messages.
    """
    if kind == "local":
        inner: Embedder = LocalEmbedder()
    elif kind == "openai":
        inner = OpenAIEmbedder.from_settings(settings, base_url_origin=base_url_origin)
    else:
        raise EmbeddingError(f"embedder {kind!r} is not known; choose 'local' or 'openai'")
    return CachingEmbedder(inner, cache)
