"""Sirekap per-TPS documents (both shapes) in the desk's terms, on fixtures in KPU's shapes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from shared.form import Contest
from shared.kpu.sirekap import (
    WIB,
    CandidateMap,
    KpuState,
    KpuTps,
    SirekapError,
    check_mapping_against,
    parse_candidate_map,
    parse_tps_document,
    tps_code_from_name,
    tps_document_path,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kpu"
PEMILU_DESA = FIXTURES / "pemilu/hhcw/ppwp/16/1607/160701/1607011016"
PILKADA_DESA = FIXTURES / "pilkada/hhcw/pkwkk/16/1607/160701/1607011016"


def ppwp_map() -> CandidateMap:
    return parse_candidate_map((FIXTURES / "pemilu/ppwp.json").read_bytes(), Contest.PPWP)


def pilbup_map() -> CandidateMap:
    return parse_candidate_map((FIXTURES / "pilkada/pkwkk/1607.json").read_bytes(), Contest.PILBUP)


def read(folder: Path, number: int, mapping: CandidateMap) -> KpuTps:
    name = f"1607011016{number:03d}.json"
    code = tps_code_from_name(name)
    assert code is not None
    return parse_tps_document((folder / name).read_bytes(), code, mapping)


def test_candidate_list_json_maps_ids_to_nomor_urut_lines() -> None:
    assert ppwp_map().lines == {"100025": "c1", "100026": "c2", "100027": "c3"}
    assert pilbup_map().lines == {"1011001": "c1", "1011002": "c2"}


def test_mapping_file_csv_and_json_mapping_give_the_same_map() -> None:
    from_csv = parse_candidate_map(
        (FIXTURES / "mapping-ppwp.csv").read_bytes(), Contest.PPWP, csv_text=True
    )
    from_json = parse_candidate_map(
        orjson.dumps({"100025": "c1", "100026": "c2", "100027": "c3"}), Contest.PPWP
    )
    assert from_csv == from_json == ppwp_map()


def test_party_list_contest_maps_to_party_lines() -> None:
    mapping = parse_candidate_map(
        orjson.dumps({"1": {"nama": "PKB", "nomor_urut": 1}, "24": {"nomor_urut": 24}}),
        Contest.DPR,
    )
    assert mapping.lines == {"1": "p1", "24": "p24"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{not json", "KPU_CANDIDATES_UNREADABLE"),
        (b'{"100025": {"nama": "x"}}', "KPU_CANDIDATES_EMPTY"),
        (b'{"100025": "c1", "100026": "c1"}', "KPU_CANDIDATES_INVALID"),
        (b'{"100025": "x1"}', "KPU_CANDIDATES_INVALID"),
    ],
)
def test_bad_candidate_lists_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(SirekapError) as caught:
        parse_candidate_map(data, Contest.PPWP)
    assert caught.value.code == code


def test_mapping_checked_against_the_roster_lines() -> None:
    assert check_mapping_against(ppwp_map(), {"c1": 1, "c2": 1, "c3": 1}) == []
    assert check_mapping_against(ppwp_map(), {"c1": 1, "c2": 1}) == ["c3"]


def test_pemilu_document_read_whole_null_key_ignored() -> None:
    tps = read(PEMILU_DESA, 1, ppwp_map())
    assert tps == parse_tps_document(
        (PEMILU_DESA / "1607011016001.json").read_bytes(), "16.07.01.1016.001", ppwp_map()
    )
    assert tps.tps == "16.07.01.1016.001"
    assert tps.model_dump() == {
        "tps": "16.07.01.1016.001",
        "state": KpuState.PUBLISHED,
        "votes": {"c1": 44, "c2": 78, "c3": 18},
        "suara_sah": 140,
        "suara_tidak_sah": 0,
        "suara_total": 140,
        "pengguna": 140,
        "dpt": 174,
        "status_suara": True,
        "status_adm": True,
        "psu": None,
        "kpu_ts": datetime(2024, 2, 16, 23, 0, tzinfo=WIB),
        "images": (
            "https://sirekap-obj-formc.kpu.go.id/1607011016001-20240214-hal1.jpg",
            "https://sirekap-obj-formc.kpu.go.id/1607011016001-20240214-hal2.jpg",
            "https://sirekap-obj-formc.kpu.go.id/1607011016001-20240214-hal3.jpg",
        ),
    }


def test_not_entered_document_is_pending_with_nothing_to_compare() -> None:
    tps = parse_tps_document(
        (PEMILU_DESA / "1607011016002.json").read_bytes(), "16.07.01.1016.002", ppwp_map()
    )
    assert tps.state is KpuState.PENDING
    assert (tps.votes, tps.suara_sah, tps.pengguna, tps.dpt, tps.images) == (
        {},
        None,
        None,
        None,
        (),
    )


def test_partial_chart_with_status_suara_false_is_pending_and_keeps_what_was_given() -> None:
    tps = parse_tps_document(
        (PEMILU_DESA / "1607011016003.json").read_bytes(), "16.07.01.1016.003", ppwp_map()
    )
    assert tps.state is KpuState.PENDING
    assert tps.votes == {"c1": 21, "c3": 9}
    assert (tps.suara_sah, tps.dpt) == (None, 201)


def test_misread_total_above_dpt_is_read_as_kpu_shows_it() -> None:
    tps = parse_tps_document(
        (PEMILU_DESA / "1607011016004.json").read_bytes(), "16.07.01.1016.004", ppwp_map()
    )
    assert tps.state is KpuState.PUBLISHED
    assert tps.votes["c2"] == 1920
    assert (tps.suara_total, tps.dpt) == (1965, 196)


def test_numbers_as_strings_unknown_fields_and_psu_text() -> None:
    tps = parse_tps_document(
        (PEMILU_DESA / "1607011016005.json").read_bytes(), "16.07.01.1016.005", ppwp_map()
    )
    assert tps.votes == {"c1": 12, "c2": 101, "c3": 15}
    assert (tps.suara_sah, tps.suara_tidak_sah, tps.pengguna) == (128, 3, 131)
    assert tps.psu == "PSU 24 Februari 2024"


@pytest.mark.parametrize(
    ("number", "code"),
    [(6, "KPU_NOT_JSON"), (7, "KPU_UNKNOWN_CANDIDATE"), (8, "KPU_BAD_FIELD")],
)
def test_bad_documents_say_why(number: int, code: str) -> None:
    data = (PEMILU_DESA / f"1607011016{number:03d}.json").read_bytes()
    with pytest.raises(SirekapError) as caught:
        parse_tps_document(data, f"16.07.01.1016.{number:03d}", ppwp_map())
    assert caught.value.code == code
    assert caught.value.pesan and caught.value.message  # Indonesian and English
    assert caught.value.pesan != caught.value.message


def test_a_json_array_is_not_a_tps_document() -> None:
    with pytest.raises(SirekapError) as caught:
        parse_tps_document(b"[1, 2]", "16.07.01.1016.001", ppwp_map())
    assert caught.value.code == "KPU_NOT_OBJECT"


def test_unreadable_ts_is_a_bad_document() -> None:
    with pytest.raises(SirekapError) as caught:
        parse_tps_document(b'{"ts": "kemarin"}', "16.07.01.1016.001", ppwp_map())
    assert caught.value.code == "KPU_BAD_TS"


def test_pilkada_tungsura_wrapper() -> None:
    tps = parse_tps_document(
        (PILKADA_DESA / "1607011016001.json").read_bytes(), "16.07.01.1016.001", pilbup_map()
    )
    assert tps.state is KpuState.PUBLISHED
    assert tps.votes == {"c1": 201, "c2": 143}
    assert (tps.suara_sah, tps.suara_tidak_sah, tps.suara_total, tps.pengguna, tps.dpt) == (
        344,
        6,
        350,
        350,
        458,
    )
    assert tps.kpu_ts == datetime(2024, 11, 28, 9, 0, tzinfo=WIB)
    assert tps.kpu_ts.utcoffset() == timedelta(hours=7)


def test_pilkada_null_tungsura_is_pending_and_psu_object_kept_as_json() -> None:
    pending = parse_tps_document(
        (PILKADA_DESA / "1607011016002.json").read_bytes(), "16.07.01.1016.002", pilbup_map()
    )
    assert pending.state is KpuState.PENDING
    assert pending.votes == {}
    psu = parse_tps_document(
        (PILKADA_DESA / "1607011016003.json").read_bytes(), "16.07.01.1016.003", pilbup_map()
    )
    assert psu.state is KpuState.PUBLISHED
    assert orjson.loads(psu.psu or "") == {
        "alasan": "pemilih tidak berhak",
        "tanggal": "2024-12-07",
    }


def test_tps_codes_without_dots_and_document_paths() -> None:
    assert tps_code_from_name("1607011016001.json") == "16.07.01.1016.001"
    assert tps_code_from_name("a/b/1607031033904.json") == "16.07.03.1033.904"
    assert tps_code_from_name("ppwp.json") is None
    assert tps_code_from_name("160701101600.json") is None
    assert tps_document_path("16.07.01.1016.001") == "16/1607/160701/1607011016/1607011016001.json"


def test_content_hash_changes_with_any_number_and_not_otherwise() -> None:
    data = (PEMILU_DESA / "1607011016001.json").read_bytes()
    first = parse_tps_document(data, "16.07.01.1016.001", ppwp_map())
    again = parse_tps_document(data, "16.07.01.1016.001", ppwp_map())
    assert first.content_hash() == again.content_hash()
    changed = parse_tps_document(
        data.replace(b'"100026": 78', b'"100026": 79'), first.tps, ppwp_map()
    )
    assert changed.content_hash() != first.content_hash()
