"""Wrong delivery-code tries: after a few, the order's delivery is locked until a dispatcher
lifts the lock (four digits are otherwise guessed in minutes). Pure: the tries and locks are
kept by :mod:`dispatch.storage.code_tries`."""

from __future__ import annotations

from dataclasses import dataclass

MAX_WRONG_TRIES = 5


@dataclass(frozen=True, slots=True)
class CodeTry:
    """How a code was judged: right, wrong or locked (not judged), and wrong tries so far."""

    outcome: str
    wrong_tries: int

    @property
    def tries_left(self) -> int:
        return max(0, MAX_WRONG_TRIES - self.wrong_tries)
