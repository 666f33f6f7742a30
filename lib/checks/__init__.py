"""Checks: does a backend keep its promises? Each check is an ordinary stored experiment.

- seed.py  the seed check: seed A, seed A again, seed B -> seed_honoured | seed_ignored |
           deterministic_regardless_of_seed | seed_honoured_not_deterministic | inconclusive
- load.py  the load probe: one seeded request alone, K copies at once, and next to B
           background requests -> load_invariant | load_dependent | inconclusive
- logprobs.py  the logprobs check: one seeded request without and with logprobs ->
           logprobs_do_not_change_outputs | logprobs_change_outputs | inconclusive
- history.py  `latest_checks(store)`: the newest verdict of each check per backend, recomputed
           from the stored runs (for a capability table)

All run through seedscope.experiments (labelled `check:seed` / `check:load` /
`check:logprobs`), so their runs
and fingerprints land in the history like any experiment's.
"""

from seedscope.checks.common import CHECK_LABEL_PREFIX, INCONCLUSIVE, CheckResult, Verdict
from seedscope.checks.history import CheckRecord, check_history, latest_checks
from seedscope.checks.load import (
    LOAD_PROBE_LABEL,
    LOAD_VERDICTS,
    evaluate_load_probe,
    load_probe_spec,
    run_load_probe,
)
from seedscope.checks.logprobs import (
    LOGPROBS_CHECK_LABEL,
    LOGPROBS_VERDICTS,
    evaluate_logprobs_check,
    logprobs_check_spec,
    run_logprobs_check,
)
from seedscope.checks.seed import (
    SEED_CHECK_LABEL,
    SEED_VERDICTS,
    evaluate_seed_check,
    run_seed_check,
    seed_check_spec,
)

__all__ = [
    "CHECK_LABEL_PREFIX",
    "INCONCLUSIVE",
    "LOAD_PROBE_LABEL",
    "LOAD_VERDICTS",
    "LOGPROBS_CHECK_LABEL",
    "LOGPROBS_VERDICTS",
    "SEED_CHECK_LABEL",
    "SEED_VERDICTS",
    "CheckRecord",
    "CheckResult",
    "Verdict",
    "check_history",
    "evaluate_load_probe",
    "evaluate_logprobs_check",
    "evaluate_seed_check",
    "latest_checks",
    "load_probe_spec",
    "logprobs_check_spec",
    "run_load_probe",
    "run_logprobs_check",
    "run_seed_check",
    "seed_check_spec",
]
