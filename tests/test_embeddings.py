"""seedscope.embeddings: the real MiniLM model, a real OpenAI-compatible server, the cache."""

from __future__ import annotations

import hashlib
import os
import re
import threading

import numpy as np
import pytest
from seedscope.embeddings import (
    CachingEmbedder,
    Embedder,
    EmbeddingError,
    LocalEmbedder,
    MemoryVectorCache,
    OpenAIEmbedder,
    VectorCache,
    load_local_model,
    make_embedder,
    text_sha256,
)
from seedscope.metrics import cosine_distance_matrix
from seedscope.settings import Settings

from tests.helpers import free_port, start_fake_server

SECRET_KEY = "sk-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def keyed_server():
    server = start_fake_server("--api-key", SECRET_KEY, "--embedding-dim", "32")
    yield server
    server.stop()


# --- hashing and the memory cache -----------------------------------------------------------


def test_text_sha256_is_the_utf8_digest():
    assert text_sha256("abc") == hashlib.sha256(b"abc").hexdigest()
    assert text_sha256("Mars 🚀") == hashlib.sha256("Mars 🚀".encode()).hexdigest()
    assert text_sha256("a\ud800") != text_sha256("a")  # lone surrogates are hashed, not dropped


def test_memory_cache_keys_by_embedder_and_hash():
    cache = MemoryVectorCache()
    assert isinstance(cache, VectorCache)
    cache.put_vectors("e1", {"h1": np.array([1.0, 2.0]), "h2": np.array([3.0, 4.0])})
    found = cache.get_vectors("e1", ["h1", "h3"])
    assert list(found) == ["h1"]
    assert found["h1"].tolist() == [1.0, 2.0]
    assert found["h1"].dtype == np.float32
    assert cache.get_vectors("e2", ["h1"]) == {}


def test_memory_cache_vectors_cannot_be_changed_through_the_caller():
    cache = MemoryVectorCache()
    vector = np.array([1.0, 2.0], dtype=np.float32)
    cache.put_vectors("e", {"h": vector})
    vector[0] = 99.0
    stored = cache.get_vectors("e", ["h"])["h"]
    assert stored[0] == 1.0
    with pytest.raises(ValueError):
        stored[0] = 5.0


def test_memory_cache_evicts_least_recently_used():
    cache = MemoryVectorCache(max_entries=2)
    cache.put_vectors("e", {"a": np.zeros(1), "b": np.zeros(1)})
    cache.get_vectors("e", ["a"])  # "a" is now the most recently used
    cache.put_vectors("e", {"c": np.zeros(1)})
    assert set(cache.get_vectors("e", ["a", "b", "c"])) == {"a", "c"}
    assert len(cache) == 2


def test_memory_cache_is_safe_under_concurrent_use():
    cache = MemoryVectorCache(max_entries=10_000)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(300):
                cache.put_vectors("e", {f"{worker}-{i}": np.full(4, i, dtype=np.float32)})
                got = cache.get_vectors("e", [f"{worker}-{i}"])
                assert got[f"{worker}-{i}"][0] == i
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) == 8 * 300


# --- the embedded model ---------------------------------------------------------------------


def test_local_embedder_gives_unit_384_d_float32_vectors(local):
    assert isinstance(local, Embedder)
    assert local.id == "local:all-MiniLM-L6-v2"
    vectors = local.embed(["The rover landed on Mars.", "", "Bonjour 🚀"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert local.embed([]).shape == (0, 384)


def test_local_embedder_places_paraphrases_closer_than_unrelated_text(local):
    vectors = local.embed(
        [
            "The spacecraft touched down safely on the red planet.",
            "The probe landed without trouble on Mars.",
            "My grandmother's apple pie recipe needs cinnamon.",
        ]
    )
    distances = cosine_distance_matrix(vectors)
    assert distances[0, 1] < 0.5 < distances[0, 2]


def test_local_model_is_loaded_once_per_process_and_offline(local):
    other = LocalEmbedder()
    assert other.model is local.model
    assert load_local_model() is local.model
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert str(local.model.device) == "cpu"


def test_local_embedders_can_encode_from_many_threads_at_once(local):
    texts = [f"Thread-safe encoding, sentence {i}." for i in range(12)]
    expected = local.embed(texts)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(LocalEmbedder().embed(texts))  # separate instances, one model
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 4
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_local_embedder_is_deterministic_across_calls(local):
    texts = ["Seeded runs repeat.", "Unseeded runs drift."]
    np.testing.assert_array_equal(local.embed(texts), local.embed(texts))


# --- caching and batching -------------------------------------------------------------------


def test_fifty_identical_texts_cost_one_encode(local):
    embedder = CachingEmbedder(local)
    vectors = embedder.embed(["Same output every time."] * 50)
    assert embedder.encode_calls == 1
    assert embedder.texts_encoded == 1
    assert vectors.shape == (50, 384)
    assert np.all(vectors == vectors[0])


def test_cached_vectors_are_not_re_embedded(local):
    cache = MemoryVectorCache()
    first = CachingEmbedder(local, cache)
    texts = ["alpha centauri", "beta pictoris", "alpha centauri"]
    vectors = first.embed(texts)
    assert (first.encode_calls, first.texts_encoded) == (1, 2)
    again = first.embed(list(reversed(texts)))
    assert (first.encode_calls, first.texts_encoded) == (1, 2)
    np.testing.assert_array_equal(again, vectors[::-1])
    # A second embedder over the same cache and model id finds them too (a re-rendered view).
    second = CachingEmbedder(LocalEmbedder(), cache)
    second.embed(texts)
    assert second.encode_calls == 0


def test_batches_keep_input_order_and_match_direct_encoding(local):
    texts = [f"Mission log {i}: " + "dust storm " * (i % 7) for i in range(130)]
    embedder = CachingEmbedder(local, batch_size=64)
    vectors = embedder.embed(texts)
    assert (embedder.encode_calls, embedder.texts_encoded) == (3, 130)
    direct = local.embed(texts)
    np.testing.assert_allclose(vectors, direct, atol=1e-5)


def test_caching_embedder_with_no_texts(local):
    embedder = CachingEmbedder(local)
    assert embedder.embed([]).shape[0] == 0
    assert embedder.encode_calls == 0


def test_caching_embedder_rejects_a_bad_batch_size(local):
    with pytest.raises(ValueError, match="batch_size"):
        CachingEmbedder(local, batch_size=0)


def test_make_embedder_local_and_unknown():
    embedder = make_embedder(Settings(), "local")
    assert isinstance(embedder, CachingEmbedder)
    assert embedder.id == "local:all-MiniLM-L6-v2"
    with pytest.raises(EmbeddingError, match="not known"):
        make_embedder(Settings(), "word2vec")  # type: ignore[arg-type]


# --- OpenAI-compatible server on 127.0.0.1 --------------------------------------------------


def test_openai_embedder_against_a_real_http_server(keyed_server):
    settings = Settings(openai_api_key=SECRET_KEY, openai_embedding_model="fake-embed")
    embedder = OpenAIEmbedder.from_settings(settings, base_url=keyed_server.base_url)
    assert embedder.id == f"openai:fake-embed@127.0.0.1:{keyed_server.port}"
    assert SECRET_KEY not in repr(embedder) and SECRET_KEY not in embedder.id
    vectors = embedder.embed(["one", "two", "one"])
    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_make_embedder_openai_batches_and_caches_over_http(keyed_server):
    keyed_server.reset()
    settings = Settings(
        openai_api_key=SECRET_KEY,
        openai_base_url=keyed_server.base_url,
        openai_embedding_model="fake-embed",
    )
    embedder = make_embedder(settings, "openai")
    texts = [f"text {i}" for i in range(70)] + ["text 0"] * 30
    assert embedder.embed(texts).shape == (100, 32)
    embedder.embed(texts)
    assert embedder.encode_calls == 2  # 70 distinct texts in batches of 64, once
    sent = keyed_server.stats()["embeddings_log"]
    assert [(r["model"], r["encoding_format"], r["inputs"]) for r in sent] == [
        ("fake-embed", "float", 64),
        ("fake-embed", "float", 6),
    ]


def test_openai_embedder_wrong_key_is_readable_and_never_shows_a_key(keyed_server):
    wrong = "sk-wrong-key-that-must-not-leak-42"
    embedder = OpenAIEmbedder(api_key=wrong, base_url=keyed_server.base_url, max_retries=0)
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed(["hello"])
    message = str(caught.value)
    assert "HTTP 401" in message and "OPENAI_API_KEY" in message
    assert wrong not in message and SECRET_KEY not in message


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("fault-404", "not found (HTTP 404)"),
        ("fault-403", "permission denied (HTTP 403)"),
        ("fault-400", "HTTP 400"),
        ("fault-500", "server error (HTTP 500)"),
        ("fault-malformed", "malformed response"),
        ("fault-429", "rate limited (HTTP 429)"),
        ("fault-timeout", "timed out"),
        ("fault-drop", "connection failed"),
    ],
)
def test_openai_embedder_server_faults_become_embedding_errors(keyed_server, model, expected):
    embedder = OpenAIEmbedder(
        api_key=SECRET_KEY, base_url=keyed_server.base_url, model=model, timeout=2, max_retries=0
    )
    with pytest.raises(EmbeddingError, match=re.escape(expected)) as caught:
        embedder.embed(["hello"])
    assert model in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_openai_embedder_unreachable_server_is_readable():
    port = free_port()  # nothing listens there
    embedder = OpenAIEmbedder(
        api_key=SECRET_KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=5, max_retries=0
    )
    with pytest.raises(EmbeddingError, match="connection failed") as caught:
        embedder.embed(["hello"])
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_openai_embedder_needs_a_key_or_a_base_url():
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        OpenAIEmbedder.from_settings(Settings())
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        make_embedder(Settings(), "openai")
