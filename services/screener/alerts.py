"""Desk alert rules: configured as data, evaluated over facts the screener reads. Pure, no I/O.

A rule is an `AlertRule` (code, kind, severity, thresholds, enabled); the defaults are
`DEFAULT_RULES`, replaced by SCREENER_ALERT_RULES (a JSON list of rules). `evaluate` turns the
facts of one moment into `Alert`s, each with a dedupe key: the repository stores an alert once
per key (INSERT ... ON CONFLICT DO NOTHING), so the same incident, stall or quarantine raises
one alert however many passes see it.

Kinds:

- `critical_incident`: an incident at or above `min_severity` (default critical); one alert per
  incident.
- `quarantine_leader`: held (quarantined) votes of a contest that could change who leads the
  kabupaten (shared.quarantine.quarantine_risk: held valid votes >= the margin); one alert per
  contest and set of held TPS.
- `kecamatan_stalled`: a kecamatan whose progress has not moved for `threshold_minutes` of
  counting time (shared.silence, the same mark the silent-TPS view shows); one alert per
  kecamatan and stall (a kecamatan that moves and stalls again raises a new one).
- `pipeline_behind`: the aggregator more than `max_lag_records` behind the validator's output,
  or behind at all with its last commit older than `max_stale_s`; at most one alert per hour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.incidents import SEVERITY_RANK, SPEC_OF, IncidentCategory, IncidentSeverity
from shared.quarantine import quarantine_risk
from shared.silence import AreaCount, CountingHours, StallPolicy, assess


class RuleKind(StrEnum):
    """What a rule watches."""

    CRITICAL_INCIDENT = "critical_incident"
    QUARANTINE_LEADER = "quarantine_leader"
    KECAMATAN_STALLED = "kecamatan_stalled"
    PIPELINE_BEHIND = "pipeline_behind"


class AlertRule(BaseModel):
    """One configured rule (SCREENER_ALERT_RULES holds a JSON list of these)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{2,40}$")
    kind: RuleKind
    severity: IncidentSeverity = IncidentSeverity.HIGH
    enabled: bool = True
    min_severity: IncidentSeverity = IncidentSeverity.CRITICAL  # critical_incident
    threshold_minutes: float = Field(default=60.0, gt=0)  # kecamatan_stalled
    max_lag_records: int = Field(default=5000, ge=1)  # pipeline_behind
    max_stale_s: float = Field(default=120.0, gt=0)  # pipeline_behind
    min_lag_records: int = Field(default=100, ge=1)  # pipeline_behind: "behind at all"


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        code="CRITICAL_INCIDENT",
        kind=RuleKind.CRITICAL_INCIDENT,
        severity=IncidentSeverity.CRITICAL,
    ),
    AlertRule(code="QUARANTINE_CAN_CHANGE_LEADER", kind=RuleKind.QUARANTINE_LEADER),
    AlertRule(code="KECAMATAN_STALLED", kind=RuleKind.KECAMATAN_STALLED),
    AlertRule(code="PIPELINE_BEHIND", kind=RuleKind.PIPELINE_BEHIND),
)

_rules_adapter: TypeAdapter[tuple[AlertRule, ...]] = TypeAdapter(tuple[AlertRule, ...])


def rules_from_json(text: str) -> tuple[AlertRule, ...]:
    """The rules of SCREENER_ALERT_RULES; empty text: DEFAULT_RULES. Raises on a bad list."""
    if not text.strip():
        return DEFAULT_RULES
    rules = _rules_adapter.validate_json(text)
    codes = [r.code for r in rules]
    if len(set(codes)) != len(codes):
        raise ValueError(f"SCREENER_ALERT_RULES: duplicate rule codes in {codes}")
    return rules


@dataclass(frozen=True, slots=True)
class IncidentFact:
    """An incident not yet looked at by the rules' store (recent, or not yet alerted)."""

    incident_id: str
    area: str
    kecamatan: str
    kecamatan_name: str
    category: IncidentCategory
    severity: IncidentSeverity
    text: str
    operator: str
    reported_at: datetime


@dataclass(frozen=True, slots=True)
class QuarantineFact:
    """A contest with held results: counted and held votes per line over the kabupaten."""

    election: str
    contest: str
    area: str
    counted: dict[str, int]
    held: dict[str, int]
    held_tps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KecamatanFact:
    """A kecamatan's expected and received results, and when the received count last moved."""

    election: str
    code: str
    name: str
    count: AreaCount


@dataclass(frozen=True, slots=True)
class PipelineFact:
    """How far the aggregator is behind the validator's output, and its last commit's age."""

    lag_records: int
    last_commit_age_s: float | None


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything one evaluation looks at."""

    now: datetime
    incidents: Sequence[IncidentFact] = ()
    quarantines: Sequence[QuarantineFact] = ()
    kecamatan: Sequence[KecamatanFact] = ()
    pipeline: PipelineFact | None = None
    hours: CountingHours = field(default_factory=CountingHours)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert to raise (once per dedupe key)."""

    dedupe_key: str
    rule: str
    severity: IncidentSeverity
    area: str  # '' desk-wide, else a kecamatan code
    pesan: str
    message: str
    details: dict[str, Any]


def _short(text: str, n: int = 160) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= n else one_line[: n - 3] + "..."


def _incident_alerts(rule: AlertRule, facts: Facts) -> Iterable[Alert]:
    floor = SEVERITY_RANK[rule.min_severity]
    for i in facts.incidents:
        if SEVERITY_RANK[i.severity] < floor:
            continue
        name = SPEC_OF[i.category].name
        where = f"TPS {i.area}" if i.area.count(".") == 4 else f"desa {i.area}"
        yield Alert(
            dedupe_key=f"{rule.code}:{i.incident_id}",
            rule=rule.code,
            severity=rule.severity,
            area=i.kecamatan,
            pesan=f"Kejadian {name} di {where} (Kec. {i.kecamatan_name}): {_short(i.text)}",
            message=f"Incident {SPEC_OF[i.category].name_en} at {where} "
            f"({i.kecamatan_name}): {_short(i.text)}",
            details={
                "incident_id": i.incident_id,
                "area": i.area,
                "category": i.category.value,
                "severity": i.severity.value,
                "operator": i.operator,
                "reported_at": i.reported_at.isoformat(),
            },
        )


def _quarantine_alerts(rule: AlertRule, facts: Facts) -> Iterable[Alert]:
    for q in facts.quarantines:
        risk = quarantine_risk(q.counted, q.held)
        if not risk["could_change"]:
            continue
        held_set = hashlib.sha256("\n".join(sorted(q.held_tps)).encode()).hexdigest()[:12]
        yield Alert(
            dedupe_key=f"{rule.code}:{q.election}:{q.contest}:{q.area}:{held_set}",
            rule=rule.code,
            severity=rule.severity,
            area="",
            pesan=f"Suara dikarantina {q.contest} ({len(q.held_tps)} TPS, {risk['held_votes']} "
            f"suara) bisa mengubah peringkat pertama: selisih {risk['margin']} suara.",
            message=f"Quarantined {q.contest} votes ({len(q.held_tps)} TPS, {risk['held_votes']} "
            f"votes) could change the leader: margin {risk['margin']} votes.",
            details={
                "election": q.election,
                "contest": q.contest,
                "area": q.area,
                "held_tps": list(q.held_tps[:50]),
                **risk,
            },
        )


def _stall_alerts(rule: AlertRule, facts: Facts) -> Iterable[Alert]:
    policy = StallPolicy(threshold=timedelta(minutes=rule.threshold_minutes), hours=facts.hours)
    for k in facts.kecamatan:
        status = assess(k.count, facts.now, policy)
        if not status.stalled:
            continue
        since = k.count.last_progress_at.isoformat() if k.count.last_progress_at else "never"
        minutes = int(status.idle.total_seconds() // 60)
        yield Alert(
            dedupe_key=f"{rule.code}:{k.election}:{k.code}:{since}",
            rule=rule.code,
            severity=rule.severity,
            area=k.code,
            pesan=f"Kecamatan {k.name} macet: {status.received}/{status.expected} hasil, tidak "
            f"bergerak {minutes} menit jam hitung.",
            message=f"Kecamatan {k.name} stalled: {status.received}/{status.expected} results, "
            f"no progress for {minutes} counting minutes.",
            details={
                "election": k.election,
                "kecamatan": k.code,
                "expected": status.expected,
                "received": status.received,
                "idle_minutes": minutes,
                "last_progress_at": since,
            },
        )


def _pipeline_alerts(rule: AlertRule, facts: Facts) -> Iterable[Alert]:
    p = facts.pipeline
    if p is None:
        return
    stale = p.last_commit_age_s is not None and p.last_commit_age_s > rule.max_stale_s
    behind = p.lag_records > rule.max_lag_records or (
        p.lag_records >= rule.min_lag_records and stale
    )
    if not behind:
        return
    age = "-" if p.last_commit_age_s is None else f"{int(p.last_commit_age_s)}"
    yield Alert(
        dedupe_key=f"{rule.code}:{facts.now.strftime('%Y-%m-%dT%H')}",
        rule=rule.code,
        severity=rule.severity,
        area="",
        pesan=f"Pipeline tertinggal: {p.lag_records} catatan belum dijumlahkan, komit terakhir "
        f"agregator {age} detik lalu.",
        message=f"Pipeline behind: {p.lag_records} records not aggregated yet, the aggregator's "
        f"last commit {age} s ago.",
        details={"lag_records": p.lag_records, "last_commit_age_s": p.last_commit_age_s},
    )


_EVALUATORS = {
    RuleKind.CRITICAL_INCIDENT: _incident_alerts,
    RuleKind.QUARANTINE_LEADER: _quarantine_alerts,
    RuleKind.KECAMATAN_STALLED: _stall_alerts,
    RuleKind.PIPELINE_BEHIND: _pipeline_alerts,
}


def evaluate(rules: Sequence[AlertRule], facts: Facts) -> list[Alert]:
    """Every alert the enabled rules raise over these facts (duplicates by key dropped)."""
    seen: set[str] = set()
    out: list[Alert] = []
    for rule in rules:
        if not rule.enabled:
            continue
        for alert in _EVALUATORS[rule.kind](rule, facts):
            if alert.dedupe_key not in seen:
                seen.add(alert.dedupe_key)
                out.append(alert)
    return out


def kinds_in(rules: Sequence[AlertRule]) -> set[RuleKind]:
    """The kinds of the enabled rules (the screener reads only the facts those need)."""
    return {r.kind for r in rules if r.enabled}


def whatsapp_text(alert: Alert) -> str:
    """The coordinators' WhatsApp message for an alert (Indonesian, then English)."""
    level = {"critical": "KRITIS", "high": "TINGGI", "medium": "SEDANG", "low": "RENDAH"}[
        alert.severity.value
    ]
    return (
        f"[Desk Pemilu] PERINGATAN {level} ({alert.rule})\n{alert.pesan}\n\n{alert.message}\n"
        "Buka dasbor desk untuk menindaklanjuti dan menandai peringatan ini."
    )
