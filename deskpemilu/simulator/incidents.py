"""Incident reports on a simulated day: which TPS report trouble, sent to the intake's JSON route.

Planning is pure and deterministic (its own random stream, so the results' sends do not change);
each report comes from the operator who usually reports the TPS. A share of them is critical
(categories whose default severity is critical: kericuhan, tuntutan PSU).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass

import httpx

from deskpemilu.simulator.plan import DayPlan, Operators
from shared.events import OperatorRef
from shared.incidents import CATEGORIES, IncidentCategory, IncidentSeverity
from shared.roster import ElectionRoster

_CRITICAL = tuple(s.category for s in CATEGORIES if s.severity is IncidentSeverity.CRITICAL)
_OTHER = tuple(s.category for s in CATEGORIES if s.severity is not IncidentSeverity.CRITICAL)
_TEXTS = {
    IncidentCategory.KERICUHAN: "Keributan antar pendukung di depan TPS, penghitungan dihentikan.",
    IncidentCategory.INTIMIDASI: "Ada orang membagikan uang kepada pemilih di dekat TPS.",
    IncidentCategory.LOGISTIK: "Surat suara kurang 15 lembar, PPS sudah dihubungi.",
    IncidentCategory.PETUGAS: "Dua anggota KPPS tidak hadir sejak pagi.",
    IncidentCategory.BENCANA: "TPS tergenang air setelah hujan deras, kotak suara dipindahkan.",
    IncidentCategory.PSU: "Saksi menuntut pemungutan suara ulang.",
    IncidentCategory.LAINNYA: "Listrik padam selama penghitungan.",
}


@dataclass(frozen=True)
class IncidentSend:
    """One incident report an operator sends about a TPS."""

    at_s: float
    operator: OperatorRef
    idempotency_key: str
    tps: str
    category: IncidentCategory
    text: str


def plan_incidents(
    plan: DayPlan,
    roster: ElectionRoster,
    operators: Operators,
    *,
    rate: float,
    critical_share: float = 0.2,
    seed: int = 2024,
) -> list[IncidentSend]:
    """An incident at each TPS of the plan with probability ``rate`` (at most one per TPS)."""
    rng = random.Random(f"{seed}-incidents")
    first_send: dict[str, float] = {}
    for send in plan.sends:
        if send.form.tps in roster.tps:
            first_send[send.form.tps] = min(first_send.get(send.form.tps, send.at_s), send.at_s)
    out = []
    for tps in sorted(first_send):
        if rng.random() >= rate:
            continue
        pool = _CRITICAL if rng.random() < critical_share else _OTHER
        category = rng.choice(pool)
        out.append(
            IncidentSend(
                at_s=first_send[tps] - rng.uniform(0, 3600),
                operator=operators.sender(roster.tps[tps].kecamatan_code),
                idempotency_key=f"sim-{seed}-incident-{tps}",
                tps=tps,
                category=category,
                text=_TEXTS[category],
            )
        )
    return sorted(out, key=lambda i: (i.at_s, i.tps))


def expected_incidents(incidents: list[IncidentSend]) -> dict[str, int]:
    """operator id -> incidents reported (the activity report's column)."""
    return dict(sorted(Counter(i.operator.id for i in incidents).items()))


async def send_incidents(
    client: httpx.AsyncClient, tokens: dict[str, str], incidents: list[IncidentSend]
) -> list[str]:
    """POST each report to /v1/incidents until the intake answers 202; the failures, if any."""
    failures = []
    for incident in incidents:
        body = {"area": incident.tps, "category": incident.category.value, "text": incident.text}
        headers = {
            "Authorization": f"Bearer {tokens[incident.operator.id]}",
            "Idempotency-Key": incident.idempotency_key,
        }
        for _ in range(50):
            try:
                answer = await client.post("/v1/incidents", json=body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code in (429, 503):
                await asyncio.sleep(0.2)
                continue
            if answer.status_code != 202:
                failures.append(f"{incident.tps}: HTTP {answer.status_code} {answer.text[:200]}")
            break
        else:
            failures.append(f"{incident.tps}: no 202 after 50 attempts")
    return failures
