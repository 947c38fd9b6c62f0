"""The operators' activity report (services/api/activity.py) and its table files."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from openpyxl import load_workbook

from services.api import tables
from services.api.activity import OperatorRow, Sent, activity_report
from shared.silence import WIB

T0 = datetime(2024, 2, 14, 14, 0, tzinfo=WIB)
OPS = [
    OperatorRow("op-a", "A", "operator", ("16.07.01",), "6281"),
    OperatorRow("op-b", "B", "operator", ("16.07.01",), "6282"),
    OperatorRow("op-c", "C", "operator", ("16.07.02",), "6283"),
    OperatorRow("camat-a", "Camat", "camat", ("16.07.01",), "6284"),
]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_counts_pairs_deadline_channels_rejections_and_corrections() -> None:
    tps1, tps2 = "16.07.01.1001.001", "16.07.01.1001.002"
    sent = [
        Sent("op-a", "PPWP", tps1, "whatsapp", "rejected", at(0)),
        Sent("op-a", "PPWP", tps1, "whatsapp", "accepted", at(10)),
        Sent("op-a", "DPD", tps1, "api", "superseded", at(20)),
        Sent("op-a", "DPD", tps1, "api", "revision", at(90)),
        Sent("op-a", "PPWP", tps2, "batch", "accepted", at(100)),
        Sent("camat-a", "PPWP", tps2, "api", "conflict", at(120)),
    ]
    report = activity_report(sent, OPS, area="16.07.01", deadline=at(60), incidents={"op-a": 2})
    by_id = {line.operator_id: line for line in report}
    # op-c works elsewhere; camat-a is listed because they sent; op-b although silent.
    assert list(by_id) == ["camat-a", "op-a", "op-b"]
    a = by_id["op-a"]
    assert (a.pairs_sent, a.tps_sent, a.submissions) == (3, 2, 5)
    assert a.contests == ["DPD", "PPWP"]
    assert a.sent_by_deadline == 2  # PPWP/tps1 at 10, DPD/tps1 at 20; tps2 at 100 is late
    assert a.share_by_deadline == 2 / 3
    assert (a.first_send, a.last_send) == (at(0), at(100))
    assert a.channels == ["api", "batch", "whatsapp"]
    assert (a.rejections, a.corrections, a.incidents) == (1, 1, 2)
    b = by_id["op-b"]
    assert (b.pairs_sent, b.submissions, b.share_by_deadline, b.incidents) == (0, 0, 0.0, 0)
    assert b.first_send is None
    assert by_id["camat-a"].pairs_sent == 1


def test_the_kabupaten_lists_every_field_operator_and_no_incident_column_without_table() -> None:
    report = activity_report([], OPS, area="16.07", deadline=T0, incidents=None)
    assert [line.operator_id for line in report] == ["op-a", "op-b", "op-c"]
    assert all(line.incidents is None for line in report)


def test_table_files_carry_header_and_rows() -> None:
    table = tables.Table(
        title=("T",), header=("a", "b"), rows=(("x", 1), ("y", None)), sheet_name="S"
    )
    text = tables.to_csv(table).decode("utf-8-sig")
    assert text.splitlines() == ["a,b", "x,1", "y,"]
    ws = load_workbook(io.BytesIO(tables.to_xlsx(table))).active
    assert ws is not None
    values = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert values[0][0] == "T"
    assert values[2:] == [("a", "b"), ("x", 1), ("y", None)]
