"""One-line definitions of every measure the report shows (the dashboard's help texts where
there is one), so a reader of the file alone knows what each number means."""

from __future__ import annotations

# A plain experiment's measures, per arm, in the order of the measures table.
ARM_MEASURES: dict[str, str] = {
    "Runs": "Runs stored for the arm, of the runs it asked for.",
    "Failed runs": "Runs that ended in an error; they are listed with the runs, not measured.",
    "Distinct outputs": "How many different texts the successful runs produced "
    "(1/N: fully repeatable).",
    "Modal share": "Share of the successful runs that gave the most common text.",
    "Exact-match rate": "Share of the other runs (1..N-1) whose text is identical to run 0.",
    "TARr@N": "1 when all runs are identical strings, else 0 (Atil et al., 2024).",
    "Notebook mean distance": "Mean cosine distance from run 0 to each other run "
    "(the OpenAI cookbook's measure).",
    "Mean pairwise distance": "Mean cosine distance over all pairs of runs.",
    "Median pairwise distance": "Median cosine distance over all pairs of runs.",
    "Max pairwise distance": "Largest cosine distance between any two runs.",
    "First divergence (word)": "Earliest word where any run differs from run 0, counted from 1 "
    "(the CSV exports count from 0); none: all runs identical.",
    "First divergence (character)": "Earliest character where any run differs from run 0, "
    "counted from 1.",
    "Mean edit distance": "Mean normalized Levenshtein distance over all pairs of runs "
    "(0 identical, 1 nothing in common).",
    "First divergence (token)": "Earliest generated token where any run differs from the arm's "
    "first run with tokens, counted from 1; –: tokens not reported by the backend.",
    "Fork": "At that token: what the two runs generated there, their logprobs and the "
    "top-1 minus top-2 logprob margin (logprobs only when the arm captured them).",
    "Knife-edge tokens": "Share of generated positions whose top-1/top-2 logprob margin is "
    "under 0.01; –: logprobs with at least 2 alternatives not captured.",
}

BETWEEN_ARMS = "Mean cosine distance over every pair of runs across the two arms."

# A suite's figures per arm.
SUITE_ARM_MEASURES: dict[str, str] = {
    "N": "Runs per case the arm asked for; @N figures count only cases with N successful runs.",
    "cases / excluded": "Cases counted at @N, and cases excluded for having fewer than N "
    "successful runs.",
    "TARr@N": "Share of the counted cases whose N runs gave one identical text "
    "(Atil et al., 2024), with a 95% bootstrap interval over cases (fixed seed).",
    "TARa@N": "Share of the counted cases whose N extracted answers all parse and are equal; "
    "needs an answer extractor.",
    "accuracy best / worst / spread": "Share of the cases with an expected answer where any "
    "run is correct (best) and where all runs are (worst); spread = best - worst.",
    "accuracy per run": "Accuracy of the k-th measured run of every case, for k = 1..N.",
    "TARr@N A - B": "Difference of TARr@N between two arms over the cases counted in both, "
    "with a paired bootstrap 95% interval.",
}

# A suite's measures per case and arm (the cases table).
CASE_MEASURES: dict[str, str] = {
    "label": "stable: every text identical; answer-stable: texts differ but every answer "
    "parses and agrees; unparseable: texts differ and an answer could not be extracted; "
    "flaky: anything else; excluded: fewer than N successful runs.",
    "modal share": "Share of the case's runs that gave its most common text, with a Wilson "
    "95% interval.",
    "distinct outputs": "How many different texts the case's runs produced.",
    "TARr / TARa": "1 when the case's N texts (answers) are all identical, else 0.",
    "correct runs": "Runs whose extracted answer equals the expected answer "
    "(after trimming, ignoring case).",
    "first divergence (char)": "Earliest character where a run differs from run 0, counted from 1.",
    "first divergence (token)": "Earliest generated token where a run differs from run 0, "
    'counted from 1 ("token N"); empty when the runs agree or recorded no tokens.',
    "mean pairwise / edit distance": "Mean cosine distance between the runs' embeddings, and "
    "mean normalized Levenshtein distance, over all pairs of runs.",
}
