"""The NOTIFY contract between the aggregator (sender) and the api (listener).

After each batch transaction the aggregator sends `NOTIFY deskpemilu_results, <ResultsChanged
JSON>`; the api drops its response cache and tells the dashboards which contests moved.
PostgreSQL refuses payloads of 8000 bytes or more: counts and names only, never rows.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

Scope = tuple[str, str]  # (election, contest); ("", "") when a payload names nothing


class ElectionChange(BaseModel):
    """One election whose totals changed, with the contests that did."""

    model_config = ConfigDict(frozen=True)

    election: str
    contests: tuple[str, ...]


class ResultsChanged(BaseModel):
    """The payload of a NOTIFY on CHANNEL: what one committed aggregator batch changed."""

    model_config = ConfigDict(frozen=True)
    CHANNEL: ClassVar[str] = "deskpemilu_results"

    elections: tuple[ElectionChange, ...] = ()
    areas: int = Field(default=0, ge=0)  # area rows written
    tps: int = Field(default=0, ge=0)  # TPS results written
    decisions: dict[str, int] = Field(default_factory=dict)  # forms and reviews by decision

    def scopes(self) -> set[Scope]:
        """The (election, contest) pairs named; {("", "")} (anything may have changed) if none."""
        found = {(e.election, c) for e in self.elections for c in e.contests}
        found |= {(e.election, "") for e in self.elections if not e.contests}
        return found or {("", "")}


class DeskChanged(BaseModel):
    """The payload of a NOTIFY on CHANNEL: incidents or desk alerts changed (never results).

    Sent by the aggregator's incident recorder after each batch, by the screener when it raises
    an alert and by the api when an alert is acknowledged; the dashboard's incident feed and
    alert banner follow it (services/api/routes_incidents.py, /v1/desk/events).
    """

    model_config = ConfigDict(frozen=True)
    CHANNEL: ClassVar[str] = "deskpemilu_desk"

    incidents: int = Field(default=0, ge=0)  # incidents reported or updated
    alerts: int = Field(default=0, ge=0)  # alerts raised or acknowledged
    kecamatan: tuple[str, ...] = ()  # where, at most a few dozen codes
