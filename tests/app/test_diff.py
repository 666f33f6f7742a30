"""seedscope.ui.diff: the word-level diff the results view shows for any two runs."""

from __future__ import annotations

from seedscope.ui.diff import diff_as_code, first_difference, word_diff


def test_identical_texts_have_no_divergence():
    diff = word_diff("The rover landed.", "The rover landed.")
    assert diff.identical_text and not diff.whitespace_only
    assert diff.first_divergence_word is None
    assert first_difference(diff) == ("", "")


def test_whitespace_only_differences_are_told_apart():
    diff = word_diff("The rover\nlanded.", "The  rover landed.")
    assert not diff.identical_text and diff.whitespace_only
    assert diff.first_divergence_word is None


def test_first_divergence_is_the_first_changed_word_of_run_a():
    diff = word_diff("The crew saw a dust storm.", "The crew saw a red sunset.")
    assert diff.first_divergence_word == 4
    assert first_difference(diff) == ("dust", "red")
    assert diff_as_code(diff).splitlines() == [
        "  The crew saw a",
        "- dust storm.",
        "+ red sunset.",
    ]


def test_a_run_that_stops_early_diverges_where_it_ends():
    diff = word_diff("Mars is red.", "Mars is red. It is cold.")
    assert diff.first_divergence_word == 3
    assert first_difference(diff) == ("", "It")
    assert diff_as_code(diff).splitlines() == ["  Mars is red.", "+ It is cold."]


def test_long_common_stretches_are_shortened_around_the_changes():
    common = [f"w{i}" for i in range(40)]
    a = " ".join(["start", *common, "alpha", *common])
    b = " ".join(["begin", *common, "beta", *common])
    lines = diff_as_code(word_diff(a, b), context_words=5).splitlines()
    assert lines[:2] == ["- start", "+ begin"]
    assert lines[2] == "  w0 w1 w2 w3 w4 [… 30 identical words …] w35 w36 w37 w38 w39"
    assert lines[3:5] == ["- alpha", "+ beta"]
    assert lines[5] == "  w0 w1 w2 w3 w4 [… 35 identical words …]"


def test_repeated_words_are_not_treated_as_noise():
    """autojunk off: in long outputs, frequent words still anchor the alignment."""
    a = " ".join(["the"] * 300 + ["end"])
    b = " ".join(["the"] * 300 + ["stop"])
    diff = word_diff(a, b)
    assert diff.first_divergence_word == 300
    assert first_difference(diff) == ("end", "stop")


def test_divergence_is_positional_like_the_arm_measure_even_where_the_diff_aligns_an_insert():
    """The issue's report: both runs begin with "The", yet the diff said "word 1 of run A:
    `The` in run A, nothing in run B", because it aligned an inserted word."""
    from seedscope.metrics import first_divergence_word

    a, b = "The cat sat on the mat.", "The The cat sat on the mat."
    diff = word_diff(a, b)
    assert diff_as_code(diff).splitlines()[0] == "+ The"  # the alignment inserts a word
    assert diff.first_divergence_word == first_divergence_word(a, b) == 1
    assert first_difference(diff) == ("cat", "The")  # what each run has at word 2
