"""The About page's content: honest statements about seeds and fingerprints, the measures and
where they come from, and how to configure a remote backend."""

from __future__ import annotations

import streamlit as st
from seedscope.spec import LOCAL_CHAT_MODEL

SEEDS = """
**A seed** asks the backend to sample the same tokens again for the same request. For OpenAI's
Chat Completions it is an integer (int64) and **best effort**: OpenAI never promised identical
outputs, only that they are *more likely*. Since mid-2026 both `seed` and `system_fingerprint`
are marked **deprecated** in OpenAI's API specification, and the newer Responses API has no
`seed` at all. Many OpenAI-compatible servers accept the parameter and ignore it.

**A system fingerprint** (`system_fingerprint`) is an identifier of the backend configuration
that served a request. When it changes, outputs for the same seed may change too. It is *not*
a guarantee in the other direction: the same fingerprint does not mean the same output.
Many models and servers report **no fingerprint at all** (Seedscope shows "not reported"):
llama-cpp-python never returns one, Ollama always returns `fp_ollama`, llama.cpp's server
returns its build id, and vLLM derives one from its version and configuration. Seedscope records
what the server reported, exactly, and never invents one for a remote server.

**The embedded model's fingerprint is Seedscope's own** (for example `local-3f9a0c12de`): a hash
of the GGUF file, the llama-cpp-python version and the load settings (threads, batch size,
context size) — everything that can change the output on this machine. An unseeded run of the
embedded model draws a fresh random seed for every call and records it as the *effective seed*,
so any run can be replayed exactly with **Replay this run**.

Seedscope never answers a repeated request from a cache: every run is a real call.
"""

COOKBOOK = (
    "OpenAI Cookbook, *How to make your completions outputs reproducible with the new seed "
    "parameter*"
)
THINKING_MACHINES = "Thinking Machines, *Defeating Nondeterminism in LLM Inference* (2025)"
# (measure, what it means, where it comes from)
MEASURES: tuple[tuple[str, str, str], ...] = (
    (
        "Distinct outputs *x/N*",
        "How many different texts the *N* runs of an arm produced (1/N = fully repeatable).",
        f"{THINKING_MACHINES}: 80 unique completions out of 1000 at temperature 0",
    ),
    (
        "Notebook mean distance",
        "Mean cosine distance between the embedding of run 0 and each other run: the "
        "cookbook's `distances_from_embeddings` measure (0.1995 unseeded vs 0.0210 seeded there).",
        COOKBOOK,
    ),
    (
        "Mean / median / max pairwise distance",
        "Cosine distance over every pair of runs in the arm; embeddings by the embedded "
        "all-MiniLM-L6-v2, or by the configured OpenAI embedding model when chosen above the "
        "results (distances compare only within one embedding model).",
        "—",
    ),
    ("Exact-match rate", "Share of runs 1..N-1 whose text is identical to run 0.", "—"),
    (
        "TARr@N",
        "1 when all *N* raw outputs are identical strings, else 0 (averaged over prompts).",
        'Atil et al. (2024), *Non-Determinism of "Deterministic" LLM Settings* (arXiv:2408.04667)',
    ),
    (
        "First divergence",
        "The first word and character at which a run differs from run 0; the earliest over "
        "the arm.",
        f"{THINKING_MACHINES}: first divergence at token 103",
    ),
    (
        "Edit distance",
        "Levenshtein distance normalised to 0..1 (rapidfuzz), against run 0 and between runs.",
        "Ouyang et al. (2023), *LLM is Like a Box of Chocolates: the Non-determinism of "
        "ChatGPT in Code Generation*",
    ),
)
MEASURES_NOTE = """
Distances between arms (for example seeded vs unseeded) are the mean cosine distance over all
cross-arm pairs. Failed runs are listed with their reason and excluded from the distances.
"""


def measures_table() -> str:
    lines = ["| Measure | What it means | Source |", "|---|---|---|"]
    lines += [f"| {name} | {meaning} | {source} |" for name, meaning, source in MEASURES]
    return "\n".join(lines)


CONFIGURATION = """
Seedscope reads its configuration from **environment variables** or from
**`.streamlit/secrets.toml`** (copy `.streamlit/secrets.toml.example`; environment variables win).
The API key is kept in memory only: it is never written to the database, an export, a log
or this page.

```toml
# OpenAI
OPENAI_API_KEY = "sk-..."
OPENAI_MODEL = "gpt-4o-mini"

# Any OpenAI-compatible server: set its base URL (a key only if the server needs one)
OPENAI_BASE_URL = "http://127.0.0.1:8000/v1"    # vLLM (`vllm serve MODEL`)
# OPENAI_BASE_URL = "http://127.0.0.1:11434/v1" # Ollama
# OPENAI_BASE_URL = "http://127.0.0.1:8080/v1"  # llama.cpp server (`llama-server`)
# OPENAI_BASE_URL = "http://127.0.0.1:1234/v1"  # LM Studio

# Team deployments: restrict what visitors can use
SEEDSCOPE_ALLOWED_PROVIDERS = "local,openai"   # or just "local"
SEEDSCOPE_LOCK_BASE_URL = true                 # visitors cannot change the base URL
SEEDSCOPE_COST_CONFIRM_TOKENS = 20000          # confirm paid runs above this many tokens

# Run history: a SQLite file by default, PostgreSQL by URL
SEEDSCOPE_DATABASE_URL = "postgresql+psycopg://user@127.0.0.1/seedscope"
```

The same settings drive the command line: `python -m seedscope compare --preset cookbook`.
"""


def render_about() -> None:
    st.title("About Seedscope")
    st.markdown(
        "**If I send the same request again, do I get the same answer — and what changes "
        "that?** Seedscope sends one chat request many times, in arms with and without a fixed "
        "`seed` at chosen temperatures, and measures how far the outputs drift. It grew out of "
        "OpenAI's cookbook notebook on the `seed` parameter and runs offline on an embedded "
        f"model ({LOCAL_CHAT_MODEL}) as well as on OpenAI or any OpenAI-compatible server."
    )
    st.header("Seeds and system fingerprints", divider="gray")
    st.markdown(SEEDS)
    st.header("The measures", divider="gray")
    st.markdown(measures_table())
    st.markdown(MEASURES_NOTE)
    st.header("Configuring a backend", divider="gray")
    st.markdown(CONFIGURATION)
