"""What every chaos day must show, whatever faults it injected (test_chaos*, test_kafka_cluster)."""

from __future__ import annotations

from pathlib import Path

from deskpemilu.chaos import ChaosReport


def report_context(report: ChaosReport, log_dir: Path) -> str:
    """The report's summary, details and timeline, and where the service logs are: for asserts."""
    return "\n".join(
        [report.summary(), *report.details(), *report.timeline, f"service logs: {log_dir}"]
    )


def assert_counted_once(report: ChaosReport, sends: int, context: str) -> None:
    """Every fault injected; nothing acknowledged lost, nothing counted twice, every total equal
    to the truth; meanwhile the read API answered or was down (a 503, never a 500)."""
    assert report.errors == [], context
    assert report.failures == [], context
    assert report.unhealthy == [], context
    assert report.forms >= sends, context
    assert report.lost == [], context
    assert report.extra == [], context
    assert report.differences == [], context
    assert report.areas_checked > 0, context
    assert report.api_errors == 0, context
    assert report.ok, context
