"""Compare the read API's totals and progress at every area with a simulation's ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Difference:
    """One figure that differs between the API and the ground truth."""

    contest: str
    area: str
    figure: str
    api: object
    truth: object

    def __str__(self) -> str:
        return f"{self.contest} {self.area} {self.figure}: api={self.api} truth={self.truth}"


def _compare(
    contest: str, area: str, api: dict[str, Any], truth: dict[str, Any] | None
) -> list[Difference]:
    expected = truth or {"votes": {}, "suara_sah": 0, "suara_tidak_sah": 0, "tps_reported": 0}
    diffs = []
    api_votes = {k: v for k, v in api["votes"].items() if v}
    truth_votes = {k: v for k, v in expected["votes"].items() if v}
    if api_votes != truth_votes:
        keys = sorted(set(api_votes) | set(truth_votes))
        for key in keys:
            if api_votes.get(key, 0) != truth_votes.get(key, 0):
                diffs.append(
                    Difference(contest, area, f"votes.{key}", api_votes.get(key, 0),
                               truth_votes.get(key, 0))
                )  # fmt: skip
    for figure in ("suara_sah", "suara_tidak_sah", "tps_reported"):
        if api[figure] != expected[figure]:
            diffs.append(Difference(contest, area, figure, api[figure], expected[figure]))
    return diffs


def _row(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "votes": {t["key"]: t["votes"] for t in result["totals"]},
        "suara_sah": result["suara_sah"],
        "suara_tidak_sah": result["suara_tidak_sah"],
        "tps_reported": result["progress"]["tps_reported"],
    }


def _child_row(child: dict[str, Any]) -> dict[str, Any]:
    return {
        "votes": child["votes"],
        "suara_sah": child["suara_sah"],
        "suara_tidak_sah": child["suara_tidak_sah"],
        "tps_reported": child["progress"]["tps_reported"],
    }


def verify_against_api(
    api_url: str,
    token: str,
    truth: dict[str, Any],
    *,
    on_area: Callable[[str], None] | None = None,
) -> tuple[int, list[Difference]]:
    """Walk every area of every contest in the truth through the API; returns (areas, diffs)."""
    election = truth["election"]
    headers = {"Authorization": f"Bearer {token}"}
    diffs: list[Difference] = []
    checked = 0
    with httpx.Client(base_url=api_url, headers=headers, timeout=30.0) as client:
        meta = client.get(f"/v1/elections/{election}")
        meta.raise_for_status()
        tops = meta.json()["top_areas"]
        for contest, areas in truth["totals"].items():
            seen: set[str] = set()
            pending = list(tops)
            while pending:
                area = pending.pop()
                response = client.get(f"/v1/results/{election}/{contest}/{area}")
                response.raise_for_status()
                result = response.json()
                seen.add(area)
                checked += 1
                diffs += _compare(contest, area, _row(result), areas.get(area))
                for child in result["children"]:
                    if child["level"] == "tps":
                        seen.add(child["code"])
                        checked += 1
                        diffs += _compare(
                            contest, child["code"], _child_row(child), areas.get(child["code"])
                        )
                    else:
                        pending.append(child["code"])
                if on_area is not None:
                    on_area(area)
            for area in sorted(set(areas) - seen):
                diffs.append(Difference(contest, area, "area", "missing in api", "present"))
    return checked, diffs
