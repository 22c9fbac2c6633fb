"""The gated rollout runner: gate -> stages (router <-> metrics <-> judge) -> journal.

Exit codes of `canary-lint rollout`: 0 promoted, 2 usage/config error, 3 refused by the gate,
4 rolled back, 5 rollout error (router or journal failure; routing left at the last verified state).
"""

EXIT_PROMOTED = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_ROLLED_BACK = 4
EXIT_ERROR = 5
