"""The desk alert rules (services/screener/alerts.py) and the outbox's backoff: pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from services.screener.alerts import (
    DEFAULT_RULES,
    AlertRule,
    Facts,
    IncidentFact,
    KecamatanFact,
    PipelineFact,
    QuarantineFact,
    RuleKind,
    evaluate,
    rules_from_json,
    whatsapp_text,
)
from services.screener.outbox import backoff_s
from shared.incidents import IncidentCategory, IncidentSeverity
from shared.silence import WIB, AreaCount, CountingHours

# 16:00 WIB on election day: inside the default counting hours (13:00-00:00 WIB).
NOW = datetime(2024, 2, 14, 16, 0, tzinfo=WIB).astimezone(UTC)


def incident(severity: IncidentSeverity, n: int = 1) -> IncidentFact:
    return IncidentFact(
        incident_id=f"00000000-0000-0000-0000-00000000000{n}",
        area="16.07.01.1016.001",
        kecamatan="16.07.01",
        kecamatan_name="Banyuasin I",
        category=IncidentCategory.KERICUHAN,
        severity=severity,
        text="Massa  merusak\nkotak suara",
        operator="Andi",
        reported_at=NOW,
    )


def codes(facts: Facts, rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> list[str]:
    return [a.dedupe_key for a in evaluate(rules, facts)]


def test_a_critical_incident_raises_one_alert_a_lesser_one_none() -> None:
    facts = Facts(now=NOW, incidents=[incident(IncidentSeverity.CRITICAL)])
    (alert,) = evaluate(DEFAULT_RULES, facts)
    assert alert.dedupe_key == "CRITICAL_INCIDENT:00000000-0000-0000-0000-000000000001"
    assert alert.area == "16.07.01"
    assert alert.severity is IncidentSeverity.CRITICAL
    assert "Massa merusak kotak suara" in alert.pesan and "Banyuasin I" in alert.pesan
    assert "PERINGATAN KRITIS" in whatsapp_text(alert)
    assert (
        evaluate(DEFAULT_RULES, Facts(now=NOW, incidents=[incident(IncidentSeverity.HIGH)])) == []
    )
    # The same facts twice give the same key: the store raises it once.
    assert codes(facts) == codes(facts)


def test_min_severity_and_disabled_rules_are_data() -> None:
    rules = rules_from_json(
        '[{"code": "ANY_HIGH", "kind": "critical_incident", "min_severity": "high"},'
        ' {"code": "OFF", "kind": "pipeline_behind", "enabled": false, "max_lag_records": 1}]'
    )
    facts = Facts(
        now=NOW,
        incidents=[incident(IncidentSeverity.HIGH, 1), incident(IncidentSeverity.MEDIUM, 2)],
        pipeline=PipelineFact(lag_records=10**6, last_commit_age_s=9999),
    )
    assert codes(facts, rules) == ["ANY_HIGH:00000000-0000-0000-0000-000000000001"]
    assert rules_from_json("  ") == DEFAULT_RULES
    with pytest.raises(ValueError, match="duplicate"):
        twice = '{"code": "ABC", "kind": "pipeline_behind"}'
        rules_from_json(f"[{twice}, {twice}]")
    with pytest.raises(ValidationError):
        rules_from_json('[{"code": "X", "kind": "nope"}]')


def quarantine(counted: dict[str, int], held: dict[str, int]) -> QuarantineFact:
    return QuarantineFact("pemilu-2024", "PPWP", "16.07", counted, held, ("16.07.01.1016.001",))


def test_quarantine_alert_only_when_the_held_votes_could_change_the_leader() -> None:
    close = Facts(now=NOW, quarantines=[quarantine({"c1": 1000, "c2": 950}, {"c2": 60})])
    (alert,) = evaluate(DEFAULT_RULES, close)
    assert alert.rule == "QUARANTINE_CAN_CHANGE_LEADER" and alert.area == ""
    assert alert.details["margin"] == 50 and alert.details["held_votes"] == 60
    far = Facts(now=NOW, quarantines=[quarantine({"c1": 1000, "c2": 500}, {"c2": 60})])
    assert evaluate(DEFAULT_RULES, far) == []
    # Another TPS held: another set, another alert.
    more = QuarantineFact(
        "pemilu-2024", "PPWP", "16.07", {"c1": 1000, "c2": 950}, {"c2": 60},
        ("16.07.01.1016.001", "16.07.01.1016.002"),
    )  # fmt: skip
    assert codes(Facts(now=NOW, quarantines=[more])) != codes(close)


def kecamatan(received: int, last: datetime | None) -> KecamatanFact:
    return KecamatanFact("pemilu-2024", "16.07.01", "Banyuasin I", AreaCount(100, received, last))


def test_stalled_kecamatan_after_the_threshold_of_counting_time_once_per_stall() -> None:
    quiet_70 = Facts(now=NOW, kecamatan=[kecamatan(40, NOW - timedelta(minutes=70))])
    (alert,) = evaluate(DEFAULT_RULES, quiet_70)
    assert alert.rule == "KECAMATAN_STALLED" and alert.area == "16.07.01"
    assert alert.details["idle_minutes"] == 70 and "40/100" in alert.pesan
    assert (
        evaluate(
            DEFAULT_RULES, Facts(now=NOW, kecamatan=[kecamatan(40, NOW - timedelta(minutes=50))])
        )
        == []
    )
    assert (
        evaluate(
            DEFAULT_RULES, Facts(now=NOW, kecamatan=[kecamatan(100, NOW - timedelta(hours=3))])
        )
        == []
    )
    # Still stalled later: the same stall, the same key.
    later = Facts(
        now=NOW + timedelta(minutes=30), kecamatan=[kecamatan(40, NOW - timedelta(minutes=70))]
    )
    assert codes(later) == codes(quiet_70)
    # Moved, then stalled again: a new stall, a new key.
    again = Facts(now=NOW + timedelta(hours=2), kecamatan=[kecamatan(41, NOW)])
    assert codes(again) and codes(again) != codes(quiet_70)
    # Outside counting hours the clock stops: 09:00-10:10 WIB is not counting time.
    morning = datetime(2024, 2, 14, 10, 10, tzinfo=WIB)
    assert (
        evaluate(
            DEFAULT_RULES,
            Facts(now=morning, kecamatan=[kecamatan(40, morning - timedelta(minutes=70))]),
        )
        == []
    )
    # A configured threshold and counting hours.
    rules = (AlertRule(code="STALL_30", kind=RuleKind.KECAMATAN_STALLED, threshold_minutes=30),)
    all_day = CountingHours(start=time(0, 0), end=time(0, 0))
    facts = Facts(
        now=morning, kecamatan=[kecamatan(40, morning - timedelta(minutes=31))], hours=all_day
    )
    assert [a.rule for a in evaluate(rules, facts)] == ["STALL_30"]


def test_pipeline_behind_on_lag_or_on_a_stale_commit_at_most_hourly() -> None:
    def facts(lag: int, age: float | None, now: datetime = NOW) -> Facts:
        return Facts(now=now, pipeline=PipelineFact(lag_records=lag, last_commit_age_s=age))

    assert codes(facts(6000, 1.0)) == ["PIPELINE_BEHIND:2024-02-14T09"]
    assert codes(facts(200, 500.0)) == ["PIPELINE_BEHIND:2024-02-14T09"]
    assert codes(facts(200, 10.0)) == []  # moving
    assert codes(facts(20, 5000.0)) == []  # idle, caught up (transaction markers only)
    assert codes(facts(6000, 1.0, NOW + timedelta(minutes=20))) == codes(facts(6000, 1.0))
    assert codes(facts(6000, 1.0, NOW + timedelta(hours=1))) != codes(facts(6000, 1.0))
    assert codes(Facts(now=NOW, pipeline=None)) == []


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0), (10, 300.0)):
        wait = backoff_s(attempt, 2.0, 300.0)
        assert 0.8 * base <= wait <= 1.2 * base, (attempt, wait)
