"""The small error tree of the geo package."""

from __future__ import annotations

from dataclasses import dataclass


class GeoError(Exception):
    """Base class of every error raised on purpose by ``geo``."""


class OpeningHoursError(GeoError, ValueError):
    """An ``opening_hours`` string outside the supported subset."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason one catalogue row was refused (``row`` counts data rows from 1)."""

    row: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


class CatalogueError(GeoError, ValueError):
    """A catalogue file that cannot be loaded; ``problems`` lists every bad row."""

    def __init__(self, message: str, problems: list[RowProblem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[RowProblem] = problems or []
