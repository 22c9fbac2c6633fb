"""What a rollout ended in (Result, its exit code) and the runner's stop on a signal."""

from __future__ import annotations

from dataclasses import dataclass

from canary_lint.rollout import EXIT_ERROR, EXIT_PROMOTED, EXIT_REFUSED, EXIT_ROLLED_BACK

EXIT_BY_STATE = {
    "promoted": EXIT_PROMOTED,
    "refused": EXIT_REFUSED,
    "rolled-back": EXIT_ROLLED_BACK,
    "error": EXIT_ERROR,
}


@dataclass
class Result:
    state: str  # promoted | refused | rolled-back | error
    reason: str
    rollout: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_STATE.get(self.state, EXIT_ERROR)


class _Stop(Exception):
    pass
