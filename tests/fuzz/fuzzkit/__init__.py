"""Hostile-input fuzzing of canary-lint: seeds, mutations, and the contract every input must keep.

Shared by the property tests in `tests/fuzz/` (Hypothesis draws the choices) and the long campaign in
`bench/fuzz/campaign.py` (a seeded `random.Random` draws them): both build inputs with `make_input` and
judge them with `contract.check_input`.

Fronts: sql, alembic, django, openapi, python, deploy, rollout.
"""

from fuzzkit.seeds import FRONTS, Seed, seeds  # noqa: F401
