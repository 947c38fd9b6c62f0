"""The on-call dashboard's shape (its queries run against a real Prometheus in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import orjson

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "deskpemilu-oncall.json"


def test_dashboard_panels_are_complete_and_use_the_datasource_variable() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert dashboard["uid"] == "deskpemilu-oncall"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    queries = [p for p in panels if p["type"] != "row"]
    assert len(queries) >= 15
    for panel in queries:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    # Panels of one row never overlap.
    cells = set()
    for panel in panels:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
