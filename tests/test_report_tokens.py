"""The HTML report's token measures: first divergence in tokens, the fork and the knife-edge
share, with model tokens shown as literal text (read back with the report tests' parser)."""

from __future__ import annotations

from seedscope.embeddings import CachingEmbedder, LocalEmbedder
from seedscope.report import render_report
from seedscope.store import Store
from seedscope.tokens.trace import TokenTrace

from tests.store_support import make_completion, make_spec
from tests.test_report import parse_report

PAYLOAD = "<img src=x onerror=alert(1)>"


def traced(tokens: tuple[str, ...], margins: tuple[float, ...]) -> TokenTrace:
    top = tuple(((t, -0.1), ("alt", -0.1 - m)) for t, m in zip(tokens, margins, strict=True))
    return TokenTrace(tokens=tokens, logprobs=(-0.1,) * len(tokens), top=top)


def test_the_measures_table_shows_the_token_fork(tmp_path):
    spec = make_spec()  # arms "unseeded" and "seeded"
    runs = [
        (("The", " cat", " sat"), (0.5, 0.005, 0.5)),
        (("The", PAYLOAD, " sat"), (0.5, 0.005, 0.5)),
    ]
    with Store.open(f"sqlite:///{tmp_path / 'h.db'}") as store:
        experiment_id = store.create_experiment(spec, base_url_host=None)
        for index, (tokens, margins) in enumerate(runs):
            completion = make_completion(spec, "unseeded", index, text="".join(tokens))
            store.add_run(experiment_id, completion.with_changes(tokens=traced(tokens, margins)))
        for index in range(2):
            store.add_run(experiment_id, make_completion(spec, "seeded", index, text="same"))
        stored = store.load_experiment(experiment_id)
    report = parse_report(render_report(stored, embedder=CachingEmbedder(LocalEmbedder())))
    rows = {row[0][0]: [cell for cell, _ in row[1:]] for row in report.tables["measures"]}
    # columns: unseeded, seeded, definition
    assert rows["First divergence (token)"][:2] == ["2", "–"]  # seeded: no tokens reported
    assert (
        rows["Fork"][0] == f"run 0: ' cat' (-0.100) vs run 1: {PAYLOAD!r} (-0.100); margin 0.0050"
    )
    assert rows["Knife-edge tokens"][:2] == ["0.33", "–"]  # 2 of 6 margins under 0.01
    assert "counted from 1" in rows["First divergence (token)"][2]
    # The payload token is text in the document, never an element.
    assert "img" not in report.tags
