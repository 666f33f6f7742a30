"""Embeddings from OpenAI or any OpenAI-compatible `/v1/embeddings` endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from seedscope.embeddings.base import EmbeddingError
from seedscope.settings import Settings, base_url_host

DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"


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
        base_url_origin: str | None = None,
    ):
        """`base_url_origin` says where `base_url` came from, for error messages (see
        seedscope.providers.factory.make_provider); None: the configured OPENAI_BASE_URL."""
        # Imported here: the openai SDK takes ~0.6 s to import and the local embedder needs none.
        import openai
        from seedscope.providers.openai_errors import DEFAULT_HOST, PLACEHOLDER_API_KEY

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
        self._base_url = base_url
        self._base_url_origin = base_url_origin
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
    def from_settings(
        cls,
        settings: Settings,
        base_url: str | None = None,
        base_url_origin: str | None = None,
    ) -> OpenAIEmbedder:
        return cls(
            api_key=settings.openai_api_key,
            base_url=base_url or settings.openai_base_url,
            model=settings.openai_embedding_model,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            base_url_origin=base_url_origin,
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
            from seedscope.providers.openai_errors import EMBEDDINGS, describe_openai_error

            _, reason = describe_openai_error(
                exc,
                endpoint=EMBEDDINGS,
                host=self.host,
                model=self.model,
                timeout=self.timeout,
                max_retries=self.max_retries,
                api_key=self.__api_key,
                base_url=self._base_url,
                base_url_origin=self._base_url_origin,
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
