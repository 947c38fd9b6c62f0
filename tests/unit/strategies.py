"""Hypothesis strategies: small election rosters, consistent C.Hasil forms, operators in scope."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from services.validator.rules import ANOMALY_MIN_VOTES, HIGH_TURNOUT_PCT, reserve_ballots
from shared.events import Channel, OperatorRef, Role, SubmissionReceived
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai, SuratSuara
from shared.roster import ContestInfo, ElectionRoster, TpsInfo, ancestors_of

KABKO = "16.07"
MIN_DPT = 40  # with MAX_NUDGE, keeps DPT*TURNOUT_PCT% + MAX_NUDGE under DPT
# Consistent forms keep turnout this far below the anomaly threshold, and spread the votes
# over two lines from this many valid votes on, so that a corruption of a few votes
# (MAX_NUDGE) does not cross a warning threshold by accident.
TURNOUT_PCT = HIGH_TURNOUT_PCT - 10
SPREAD_FROM = ANOMALY_MIN_VOTES - 10
MAX_NUDGE = 5

CANDIDATE_CONTESTS = {
    "pemilu": (Contest.PPWP, Contest.DPD),
    "pilkada": (Contest.PILGUB, Contest.PILBUP, Contest.PILWALKOT),
}
PARTY_CONTESTS = (Contest.DPR, Contest.DPRD_PROV, Contest.DPRD_KABKO)

_tps_codes = st.tuples(
    st.integers(1, 21),  # kecamatan
    st.sampled_from([1, 2]),  # kelurahan / desa
    st.integers(1, 30),  # desa
    st.one_of(st.integers(1, 40), st.integers(901, 904)),  # TPS number (9xx: special TPS)
)


def _tps_code(kec: int, kind: int, desa: int, number: int) -> str:
    return f"{KABKO}.{kec:02d}.{kind}{desa:03d}.{number:03d}"


@st.composite
def rosters(
    draw: st.DrawFn, kind: str | None = None, *, party_list: bool = False
) -> ElectionRoster:
    """A small election roster; party_list=True: Pemilu with at least one DPR/DPRD contest."""
    kind = "pemilu" if party_list else kind or draw(st.sampled_from(["pemilu", "pilkada"]))
    cap, pct = (300, 2.0) if kind == "pemilu" else (600, 2.5)
    tps: dict[str, TpsInfo] = {}
    for parts in draw(st.lists(_tps_codes, min_size=1, max_size=6, unique=True)):
        code = _tps_code(*parts)
        dpt = draw(st.integers(MIN_DPT, cap))
        dpt_l = draw(st.integers(0, dpt))
        tps[code] = TpsInfo(code=code, number=parts[3], dpt_l=dpt_l, dpt_p=dpt - dpt_l)
    candidate_numbers = st.frozensets(st.integers(1, 20), min_size=1, max_size=5)
    contests: dict[Contest, ContestInfo] = {}
    chosen = draw(st.sets(st.sampled_from(CANDIDATE_CONTESTS[kind]), max_size=2))
    for contest in sorted(chosen):
        contests[contest] = ContestInfo(contest, candidates=draw(candidate_numbers))
    if kind == "pemilu":
        # At most two, so that a party-list contest outside the roster always exists.
        chosen_lists = draw(
            st.sets(st.sampled_from(PARTY_CONTESTS), min_size=int(party_list), max_size=2)
        )
        for contest in sorted(chosen_lists):
            parties = draw(
                st.dictionaries(
                    st.integers(1, 24),
                    st.frozensets(st.integers(1, 12), max_size=5),
                    min_size=1,
                    max_size=4,
                )
            )
            contests[contest] = ContestInfo(contest, parties=parties)
    if not contests:
        first = CANDIDATE_CONTESTS[kind][0]
        contests[first] = ContestInfo(first, candidates=draw(candidate_numbers))
    return ElectionRoster(
        election_id=f"{kind}-{draw(st.integers(2019, 2029))}",
        kind=kind,
        max_dpt_per_tps=cap,
        ballot_reserve_pct=pct,
        tps=tps,
        contests=contests,
    )


def _split(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    """Random non-negative parts summing to total."""
    cuts = sorted(draw(st.integers(0, total)) for _ in range(parts - 1))
    bounds = [0, *cuts, total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def _spread(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    """Like _split, but no single part holds everything once the total is not small."""
    shares = _split(draw, total, parts)
    if parts >= 2 and total >= SPREAD_FROM and max(shares) == total:
        top = shares.index(total)
        shares[top] -= 1
        shares[(top + 1) % parts] += 1
    return shares


def _lp(draw: st.DrawFn, jumlah: int) -> LP:
    l = draw(st.integers(0, jumlah))  # noqa: E741 - the form's own column name
    return LP(l=l, p=jumlah - l, jumlah=jumlah)


def _sum_lp(*rows: LP) -> LP:
    return LP(
        l=sum(r.l for r in rows), p=sum(r.p for r in rows), jumlah=sum(r.jumlah for r in rows)
    )


def _maybe(draw: st.DrawFn, given: bool | None) -> bool:
    return draw(st.booleans()) if given is None else given


@st.composite
def consistent_forms(
    draw: st.DrawFn,
    roster: ElectionRoster,
    *,
    tps_code: str | None = None,
    contest: Contest | None = None,
    pemilih: bool | None = None,
    surat_suara: bool | None = None,
    disabilitas: bool | None = None,
    jumlah_suara: bool | None = None,
) -> CHasil:
    """A C.Hasil of a roster TPS and contest that breaks no rule and raises no warning."""
    # Sections are present at random unless a keyword says; every roster candidate or party
    # has a line; turnout stays at most TURNOUT_PCT% of the DPT; ballots received are exactly
    # DPT plus the reserve.
    code = tps_code or draw(st.sampled_from(sorted(roster.tps)))
    kind = contest or draw(st.sampled_from(sorted(roster.contests)))
    info, contest_info = roster.tps[code], roster.contests[kind]
    dpt = info.dpt
    reserve = reserve_ballots(dpt, roster.ballot_reserve_pct)

    cast = draw(st.integers(0, dpt * TURNOUT_PCT // 100))
    tidak_sah = draw(st.integers(0, min(cast, 20)))
    sah = cast - tidak_sah

    suara_calon: dict[int, int] | None = None
    suara_partai: list[SuaraPartai] | None = None
    if kind.is_party_list:
        numbers = sorted(contest_info.parties)
        suara_partai = []
        for no, total in zip(numbers, _spread(draw, sah, len(numbers)), strict=True):
            listed = sorted(contest_info.parties[no])
            # Omitted candidate lines are fine on a party block (no warning), so omit some.
            on_form = [c for c in listed if draw(st.booleans())]
            a1, *a2 = _split(draw, total, 1 + len(on_form))
            suara_partai.append(
                SuaraPartai(
                    nomor_partai=no,
                    suara_partai=a1,
                    suara_calon=dict(zip(on_form, a2, strict=True)),
                    jumlah=total,
                )
            )
    else:
        numbers = sorted(contest_info.candidates)
        suara_calon = dict(zip(numbers, _spread(draw, sah, len(numbers)), strict=True))

    data_pemilih: DataPemilih | None = None
    if _maybe(draw, pemilih):
        from_lists = draw(st.integers(0, min(cast, reserve + 5)))  # DPTb + DPK voters
        b2_total = draw(st.integers(0, from_lists))
        b1, b2, b3 = (
            _lp(draw, cast - from_lists),
            _lp(draw, b2_total),
            _lp(draw, from_lists - b2_total),
        )
        data_pemilih = DataPemilih(
            dpt=LP(l=info.dpt_l, p=info.dpt_p, jumlah=dpt),
            pengguna_dpt=b1,
            pengguna_dptb=b2,
            pengguna_dpk=b3,
            pengguna_total=_sum_lp(b1, b2, b3),
        )

    surat: SuratSuara | None = None
    if _maybe(draw, surat_suara):
        diterima = dpt + reserve
        rusak = draw(st.integers(0, min(5, diterima - cast)))
        surat = SuratSuara(
            diterima=diterima, digunakan=cast, rusak=rusak, sisa=diterima - cast - rusak
        )

    return CHasil(
        election=roster.election_id,
        contest=kind,
        tps=code,
        pemilih=data_pemilih,
        surat_suara=surat,
        disabilitas=_lp(draw, draw(st.integers(0, min(cast, 10))))
        if _maybe(draw, disabilitas)
        else None,
        suara_calon=suara_calon,
        suara_partai=suara_partai,
        suara_sah=sah,
        suara_tidak_sah=tidak_sah,
        jumlah_suara=cast if _maybe(draw, jumlah_suara) else None,
    )


@st.composite
def operators_in_scope(draw: st.DrawFn, tps_code: str) -> OperatorRef:
    """An operator, camat or admin whose scope covers the TPS (admins maybe everywhere)."""
    role = draw(st.sampled_from([Role.OPERATOR, Role.CAMAT, Role.ADMIN]))
    covering = draw(st.sampled_from(ancestors_of(tps_code)))
    others = draw(st.lists(st.sampled_from(["16.07.99", "16.08", "16.07.01.2999"]), max_size=2))
    scope: tuple[str, ...] = (*others, covering)
    if role is Role.ADMIN and draw(st.booleans()):
        scope = ()
    return OperatorRef(id=draw(st.uuids()).hex, role=role, scope=scope, name="Petugas Uji")


@st.composite
def submissions(
    draw: st.DrawFn, roster: ElectionRoster, form: CHasil | None = None
) -> SubmissionReceived:
    """A submission of a consistent form (or the given one) by an operator in scope."""
    form = form or draw(consistent_forms(roster))
    return SubmissionReceived(
        submission_id=draw(st.uuids()),
        received_at=datetime(2024, 2, 14, 13, 0, tzinfo=UTC),
        channel=draw(st.sampled_from(list(Channel))),
        operator=draw(operators_in_scope(form.tps)),
        idempotency_key=draw(st.uuids()).hex,
        form=form,
    )
