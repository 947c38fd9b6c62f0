"""Validation rules for C.Hasil submissions: pure functions that report every broken rule."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from shared.events import OperatorRef, Severity, SubmissionReceived, Violation
from shared.form import LP, CHasil, Contest
from shared.policy import ROLE_CANNOT_SUBMIT, SCOPE_OUTSIDE, may_submit, submit_refusal
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

BOX_MAX = 999  # every number on the form is written in three digit boxes
HIGH_TURNOUT_PCT = 95  # votes cast above this share of the DPT are flagged
ANOMALY_MIN_VOTES = 50  # below this, a high turnout or a single winner says little

_E = Severity.ERROR
_W = Severity.WARNING


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule's stable code, severity, message templates and what it checks."""

    code: str
    group: str
    severity: Severity
    pesan: str  # Indonesian template, str.format fields
    message: str  # English template, same fields
    checks: str  # one line for docs/RULES.md


# The one table of codes, severities and messages; docs/RULES.md is generated from it.
_SPECS: tuple[RuleSpec, ...] = (
    RuleSpec(
        "ELECTION_UNKNOWN",
        "roster",
        _E,
        "Pemilihan {election} tidak dikenal",
        "Election {election} is unknown",
        "The form's election has a roster (roster given and of the same election id).",
    ),
    # The scope rules' texts are shared.policy's: the intake refuses with the same ones.
    RuleSpec(
        ROLE_CANNOT_SUBMIT.code,
        "scope",
        _E,
        ROLE_CANNOT_SUBMIT.pesan,
        ROLE_CANNOT_SUBMIT.message,
        "The operator's role may submit (viewers never may).",
    ),
    RuleSpec(
        SCOPE_OUTSIDE.code,
        "scope",
        _E,
        SCOPE_OUTSIDE.pesan,
        SCOPE_OUTSIDE.message,
        "The TPS code starts with one of the operator's area codes on a dot boundary "
        "(admin with empty scope: everywhere).",
    ),
    RuleSpec(
        "TPS_UNKNOWN",
        "roster",
        _E,
        "TPS {tps} tidak ada dalam daftar TPS {election}",
        "TPS {tps} is not in the TPS roster of {election}",
        "The TPS code exists in the election's roster.",
    ),
    RuleSpec(
        "CONTEST_UNKNOWN",
        "roster",
        _E,
        "Jenis pemilihan {contest} tidak ada dalam {election}",
        "Contest {contest} is not part of {election}",
        "The contest belongs to the election.",
    ),
    RuleSpec(
        "CANDIDATE_UNKNOWN",
        "roster",
        _E,
        "Nomor urut {no} tidak ada dalam daftar {noun_id} {contest}",
        "No. {no} is not a {noun_en} of {contest} in the roster",
        "Every paslon/DPD number on the form is in the contest's roster (one per number).",
    ),
    RuleSpec(
        "PARTY_UNKNOWN",
        "roster",
        _E,
        "Partai nomor {no} tidak ada dalam daftar {contest}",
        "Party no. {no} is not in the {contest} roster",
        "Every party number on a DPR/DPRD form is in the contest's roster.",
    ),
    RuleSpec(
        "PARTY_CANDIDATE_UNKNOWN",
        "roster",
        _E,
        "Calon nomor {no} tidak ada dalam daftar calon partai {party} ({contest})",
        "Candidate no. {no} is not on party {party}'s list ({contest})",
        "Every candidate line (A.2) of a known party is on that party's list.",
    ),
    RuleSpec(
        "CANDIDATE_MISSING",
        "roster",
        _W,
        "Nomor urut {nos} ({noun_id}) ada di daftar {contest} tetapi tidak tercantum pada formulir",
        "No. {nos} ({noun_en}) is in the {contest} roster but missing from the form",
        "Every paslon/DPD candidate of the roster has a line on the form.",
    ),
    RuleSpec(
        "PARTY_MISSING",
        "roster",
        _W,
        "Partai nomor {nos} ada di daftar {contest} tetapi tidak tercantum pada formulir",
        "Party no. {nos} is in the {contest} roster but missing from the form",
        "Every party of the roster has a block on a DPR/DPRD form.",
    ),
    RuleSpec(
        "TPS_CAP",
        "roster",
        _E,
        "DPT TPS {dpt} melebihi batas {cap} pemilih per TPS; periksa daftar TPS",
        "TPS DPT {dpt} is above the cap of {cap} voters per TPS; check the TPS roster",
        "The TPS's DPT (roster, else the form's I.A) is at most the election's cap "
        "(300 Pemilu, 600 Pilkada).",
    ),
    RuleSpec(
        "BOX_RANGE",
        "range",
        _E,
        "{label_id} bernilai {value}, melebihi 999 (setiap isian hanya 3 kotak angka)",
        "{label_en} is {value}, above 999 (every number has only 3 digit boxes)",
        "Every number on the form is 0-999; `field` gives the path (one per box).",
    ),
    RuleSpec(
        "LP_SUM",
        "arithmetic",
        _E,
        "{row_id}: L {l} + P {p} = {total}, tetapi L+P tertulis {jumlah}",
        "{row_en}: L {l} + P {p} = {total}, but L+P is written as {jumlah}",
        "L + P = L+P in every row of sections I and III (DOMAIN rule 1).",
    ),
    RuleSpec(
        "PEMILIH_TOTAL",
        "arithmetic",
        _E,
        "I.B.4 kolom {col} tertulis {b4}, padahal B.1 + B.2 + B.3 = {b1} + {b2} + {b3} = {total}",
        "I.B.4 column {col} is {b4}, but B.1 + B.2 + B.3 = {b1} + {b2} + {b3} = {total}",
        "B.4 = B.1 + B.2 + B.3 in each column L, P, L+P (DOMAIN rule 1).",
    ),
    RuleSpec(
        "SAH_SUM",
        "arithmetic",
        _E,
        "Jumlah suara sah (V.A) {sah} tidak sama dengan jumlah suara {noun_id} {total}",
        "Total valid votes (V.A) {sah} does not equal the sum of {noun_en} votes {total}",
        "V.A = sum of paslon/DPD votes, or of the party totals B (DOMAIN rule 2).",
    ),
    RuleSpec(
        "PARTY_SUM",
        "arithmetic",
        _E,
        "Partai {party}: suara partai {a1} + suara calon {a2} = {total}, tetapi jumlah (B) "
        "tertulis {jumlah}",
        "Party {party}: party votes {a1} + candidate votes {a2} = {total}, but total (B) "
        "is written as {jumlah}",
        "Each party's B = A.1 + sum of A.2 (DOMAIN rule 2).",
    ),
    RuleSpec(
        "JUMLAH_SUARA",
        "arithmetic",
        _E,
        "Jumlah suara sah dan tidak sah (V.C) tertulis {jumlah}, padahal {sah} + {tidak_sah} "
        "= {total}",
        "Valid plus invalid votes (V.C) is written as {jumlah}, but {sah} + {tidak_sah} = {total}",
        "V.C, when written, = V.A + V.B.",
    ),
    RuleSpec(
        "PENGGUNA_VS_SUARA",
        "arithmetic",
        _E,
        "Suara sah {sah} + tidak sah {tidak_sah} = {total}, tidak sama dengan jumlah pengguna "
        "hak pilih (I.B.4) {b4}",
        "Valid {sah} + invalid {tidak_sah} = {total} votes, not equal to the voters who voted "
        "(I.B.4) {b4}",
        "V.A + V.B = I.B.4 when section I is present (DOMAIN rule 3).",
    ),
    RuleSpec(
        "SURAT_DIGUNAKAN",
        "arithmetic",
        _E,
        "Surat suara digunakan (II.2) {digunakan} tidak sama dengan suara sah {sah} + tidak sah "
        "{tidak_sah} = {total}",
        "Ballots used (II.2) {digunakan} do not equal valid {sah} + invalid {tidak_sah} "
        "= {total} votes",
        "II.2 = V.A + V.B when section II is present (DOMAIN rule 3).",
    ),
    RuleSpec(
        "SURAT_BALANCE",
        "arithmetic",
        _E,
        "Surat suara digunakan {digunakan} + dikembalikan {rusak} + tidak digunakan {sisa} = "
        "{total}, tidak sama dengan surat suara diterima (II.1) {diterima}",
        "Ballots used {digunakan} + returned {rusak} + unused {sisa} = {total}, not equal to "
        "ballots received (II.1) {diterima}",
        "II.2 + II.3 + II.4 = II.1 (DOMAIN rule 4).",
    ),
    RuleSpec(
        "PENGGUNA_DPT_ABOVE_DPT",
        "bounds",
        _E,
        "Pengguna hak pilih dalam DPT (I.B.1) {b1} melebihi DPT {dpt}",
        "Voters from the DPT (I.B.1) {b1} exceed the DPT of {dpt}",
        "I.B.1 <= DPT (roster, else the form's I.A). With B.4 = B.1 + B.2 + B.3 this is also "
        "'total voters <= DPT + DPTb + DPK' (DOMAIN rule 6).",
    ),
    RuleSpec(
        "VOTES_ABOVE_DPT",
        "bounds",
        _E,
        "Suara sah dan tidak sah {total} melebihi DPT {dpt} + cadangan surat suara {reserve} = "
        "{limit}; kirim bagian I jika ada pemilih DPTb/DPK",
        "Valid plus invalid votes {total} exceed DPT {dpt} + ballot reserve {reserve} = {limit}; "
        "send section I if DPTb/DPK voters voted",
        "Forms without section I: V.A + V.B <= roster DPT + ballot reserve (with section I the "
        "bound follows from PENGGUNA_DPT_ABOVE_DPT and PENGGUNA_VS_SUARA).",
    ),
    RuleSpec(
        "SURAT_RESERVE",
        "plausibility",
        _W,
        "Surat suara diterima {diterima} jauh dari DPT {dpt} + cadangan {pct}% ({reserve}) = "
        "{expected}",
        "Ballots received {diterima} far from DPT {dpt} + {pct}% reserve ({reserve}) = {expected}",
        "II.1 within one reserve of DPT + reserve% rounded up (DOMAIN rule 5).",
    ),
    RuleSpec(
        "DPT_MISMATCH",
        "plausibility",
        _W,
        "DPT pada formulir (L {fl}, P {fp}, L+P {fj}) berbeda dengan DPT di daftar TPS "
        "(L {rl}, P {rp}, L+P {rj})",
        "DPT on the form (L {fl}, P {fp}, L+P {fj}) differs from the roster's DPT "
        "(L {rl}, P {rp}, L+P {rj})",
        "The form's I.A row equals the roster's DPT of the TPS.",
    ),
    RuleSpec(
        "DISABILITAS_ABOVE_PENGGUNA",
        "plausibility",
        _W,
        "Pemilih disabilitas yang memilih (III) {disabilitas} melebihi jumlah pemilih yang "
        "memilih {voters}",
        "Voters with disabilities who voted (III) {disabilitas} exceed all voters who voted "
        "{voters}",
        "III L+P <= I.B.4 (or V.A + V.B without section I).",
    ),
    RuleSpec(
        "ANOMALY_HIGH_TURNOUT",
        "plausibility",
        _W,
        "Kehadiran sangat tinggi: {total} suara dari DPT {dpt} ({pct}%)",
        "Very high turnout: {total} votes for a DPT of {dpt} ({pct}%)",
        f"V.A + V.B above {HIGH_TURNOUT_PCT}% of a DPT of at least {ANOMALY_MIN_VOTES} "
        "(and not already an error under VOTES_ABOVE_DPT).",
    ),
    RuleSpec(
        "ANOMALY_UNANIMOUS",
        "plausibility",
        _W,
        "Semua {total} suara sah untuk satu {noun_id} (nomor {no})",
        "All {total} valid votes went to one {noun_en} (no. {no})",
        f"One line holds every valid vote, with at least {ANOMALY_MIN_VOTES} valid votes and "
        "two or more lines in the contest.",
    ),
)

RULES: dict[str, RuleSpec] = {spec.code: spec for spec in _SPECS}


def _violation(code: str, field: str | None = None, **values: object) -> Violation:
    spec = RULES[code]
    return Violation(
        code=code,
        severity=spec.severity,
        pesan=spec.pesan.format(**values),
        message=spec.message.format(**values),
        field=field,
    )


def has_errors(violations: Iterable[Violation]) -> bool:
    """True when at least one violation is an error (the form is rejected)."""
    return any(v.severity is Severity.ERROR for v in violations)


def reserve_ballots(dpt: int, pct: float) -> int:
    """Reserve ballots a TPS receives: pct of DPT, rounded up (integer arithmetic on 0.01%)."""
    return -(-dpt * round(pct * 100) // 10_000)


# --- scope -----------------------------------------------------------------------------------


# An operator sends a form per contest, and resends: the same question comes back many times,
# and the policy is pure (memoised: 0.2 instead of 1.2 us per form).
_may_submit = functools.lru_cache(maxsize=1 << 16)(may_submit)


def check_scope(operator: OperatorRef, tps_code: str) -> list[Violation]:
    """Whether this operator may submit for this TPS (shared.policy): role, then area scope."""
    if _may_submit(operator.role, operator.scope, tps_code):
        return []
    refused = submit_refusal(operator, tps_code)
    if refused is None:
        return []
    return [refused.violation()]


# --- form rules ------------------------------------------------------------------------------


class FormContext(NamedTuple):
    """What the form rules share, computed once per form."""

    roster: ElectionRoster | None  # None: election unknown (or roster of another election)
    tps: TpsInfo | None
    contest: ContestInfo | None
    dpt: int | None  # the roster's DPT of the TPS, else the form's I.A L+P, else unknown
    reserve: int  # reserve ballots of the roster DPT (0 when the TPS is unknown)
    cast: int  # V.A + V.B
    valid_total: int  # sum of the vote lines (paslon/DPD votes or party totals)


Rule = Callable[[CHasil, FormContext], Iterable[Violation]]
_OK: tuple[Violation, ...] = ()

_NOUNS: dict[Contest, tuple[str, str]] = {
    Contest.PPWP: ("paslon", "candidate pair"),
    Contest.PILGUB: ("paslon", "candidate pair"),
    Contest.PILBUP: ("paslon", "candidate pair"),
    Contest.PILWALKOT: ("paslon", "candidate pair"),
    Contest.DPD: ("calon", "candidate"),
    Contest.DPR: ("partai", "party"),
    Contest.DPRD_PROV: ("partai", "party"),
    Contest.DPRD_KABKO: ("partai", "party"),
}

# Section I rows: attribute, form label (Indonesian), form label (English).
_PEMILIH_ROWS: tuple[tuple[str, str, str], ...] = (
    ("dpt", "I.A DPT", "I.A DPT"),
    ("pengguna_dpt", "I.B.1 pengguna hak pilih DPT", "I.B.1 voters from the DPT"),
    ("pengguna_dptb", "I.B.2 pengguna hak pilih DPTb", "I.B.2 voters from the DPTb"),
    ("pengguna_dpk", "I.B.3 pengguna hak pilih DPK", "I.B.3 voters from the DPK"),
    ("pengguna_total", "I.B.4 jumlah pengguna hak pilih", "I.B.4 total voters"),
)
_DISABILITAS_ROW = ("III pemilih disabilitas", "III voters with disabilities")
_COLUMNS: tuple[tuple[str, str], ...] = (("l", "L"), ("p", "P"), ("jumlah", "L+P"))
_SURAT_BOXES: tuple[tuple[str, str, str], ...] = (
    ("diterima", "II.1 surat suara diterima", "II.1 ballots received"),
    ("digunakan", "II.2 surat suara digunakan", "II.2 ballots used"),
    ("rusak", "II.3 surat suara dikembalikan", "II.3 ballots returned"),
    ("sisa", "II.4 surat suara tidak digunakan", "II.4 ballots unused"),
)
_VOTE_BOXES: tuple[tuple[str, str, str], ...] = (
    ("suara_sah", "V.A jumlah suara sah", "V.A valid votes"),
    ("suara_tidak_sah", "V.B jumlah suara tidak sah", "V.B invalid votes"),
    ("jumlah_suara", "V.C jumlah suara sah dan tidak sah", "V.C valid plus invalid votes"),
)


def _election_known(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if ctx.roster is None:
        return [_violation("ELECTION_UNKNOWN", "election", election=form.election)]
    return _OK


def _tps_known(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if ctx.roster is not None and ctx.tps is None:
        return [_violation("TPS_UNKNOWN", "tps", tps=form.tps, election=form.election)]
    return _OK


def _contest_known(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if ctx.roster is not None and ctx.contest is None:
        return [
            _violation("CONTEST_UNKNOWN", "contest", contest=form.contest, election=form.election)
        ]
    return _OK


def _candidates_known(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    calon, info = form.suara_calon, ctx.contest
    if calon is None or info is None or info.candidates.issuperset(calon):
        return _OK
    noun_id, noun_en = _NOUNS[form.contest]
    return [
        _violation(
            "CANDIDATE_UNKNOWN",
            f"suara_calon.{no}",
            no=no,
            contest=form.contest,
            noun_id=noun_id,
            noun_en=noun_en,
        )
        for no in sorted(calon)
        if no not in info.candidates
    ]


def _parties_known(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    partai, info = form.suara_partai, ctx.contest
    if partai is None or info is None:
        return _OK
    out: list[Violation] = []
    for party in partai:
        listed = info.parties.get(party.nomor_partai)
        if listed is None:
            out.append(
                _violation(
                    "PARTY_UNKNOWN",
                    f"suara_partai.{party.nomor_partai}",
                    no=party.nomor_partai,
                    contest=form.contest,
                )
            )
        elif not listed.issuperset(party.suara_calon):
            out.extend(
                _violation(
                    "PARTY_CANDIDATE_UNKNOWN",
                    f"suara_partai.{party.nomor_partai}.suara_calon.{no}",
                    no=no,
                    party=party.nomor_partai,
                    contest=form.contest,
                )
                for no in sorted(party.suara_calon)
                if no not in listed
            )
    return out


# A warning, not an error: operators leave out lines with zero votes, and any votes a
# missing line really had already break SAH_SUM unless V.A left them out as well.
def _candidates_present(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    info = ctx.contest
    if info is None:
        return _OK
    if form.suara_calon is not None:
        if form.suara_calon.keys() >= info.candidates:
            return _OK
        noun_id, noun_en = _NOUNS[form.contest]
        missing = ", ".join(str(no) for no in sorted(info.candidates - form.suara_calon.keys()))
        return [
            _violation(
                "CANDIDATE_MISSING",
                "suara_calon",
                nos=missing,
                contest=form.contest,
                noun_id=noun_id,
                noun_en=noun_en,
            )
        ]
    if form.suara_partai is not None:
        on_form = {p.nomor_partai for p in form.suara_partai}
        if on_form >= info.parties.keys():
            return _OK
        missing = ", ".join(str(no) for no in sorted(info.parties.keys() - on_form))
        return [_violation("PARTY_MISSING", "suara_partai", nos=missing, contest=form.contest)]
    return _OK


def _tps_cap(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    roster, dpt = ctx.roster, ctx.dpt
    if roster is None or dpt is None or dpt <= roster.max_dpt_per_tps:
        return _OK
    return [_violation("TPS_CAP", "tps", dpt=dpt, cap=roster.max_dpt_per_tps)]


def _boxes(form: CHasil) -> Iterator[tuple[str, str, str, int]]:
    """Every number on the form as (field path, label id, label en, value)."""
    pemilih = form.pemilih
    if pemilih is not None:
        for name, row_id, row_en in _PEMILIH_ROWS:
            row: LP = getattr(pemilih, name)
            for col, col_label in _COLUMNS:
                yield (
                    f"pemilih.{name}.{col}",
                    f"{row_id} {col_label}",
                    f"{row_en} {col_label}",
                    getattr(row, col),
                )
    surat = form.surat_suara
    if surat is not None:
        for name, label_id, label_en in _SURAT_BOXES:
            yield f"surat_suara.{name}", label_id, label_en, getattr(surat, name)
    disabilitas = form.disabilitas
    if disabilitas is not None:
        for col, col_label in _COLUMNS:
            yield (
                f"disabilitas.{col}",
                f"{_DISABILITAS_ROW[0]} {col_label}",
                f"{_DISABILITAS_ROW[1]} {col_label}",
                getattr(disabilitas, col),
            )
    if form.suara_calon is not None:
        for no, votes in form.suara_calon.items():
            yield f"suara_calon.{no}", f"IV suara nomor urut {no}", f"IV votes of no. {no}", votes
    for party in form.suara_partai or ():
        no = party.nomor_partai
        yield (
            f"suara_partai.{no}.suara_partai",
            f"IV partai {no} suara partai (A.1)",
            f"IV party {no} party votes (A.1)",
            party.suara_partai,
        )
        for cand, votes in party.suara_calon.items():
            yield (
                f"suara_partai.{no}.suara_calon.{cand}",
                f"IV partai {no} calon {cand} (A.2)",
                f"IV party {no} candidate {cand} (A.2)",
                votes,
            )
        yield (
            f"suara_partai.{no}.jumlah",
            f"IV partai {no} jumlah (B)",
            f"IV party {no} total (B)",
            party.jumlah,
        )
    for name, label_id, label_en in _VOTE_BOXES:
        value = getattr(form, name)
        if value is not None:
            yield name, label_id, label_en, value


def _max_box(form: CHasil) -> int:
    """Largest number on the form, by the fast route (the usual answer is 'in range')."""
    top = max(form.suara_sah, form.suara_tidak_sah, form.jumlah_suara or 0)
    pemilih, surat, disabilitas = form.pemilih, form.surat_suara, form.disabilitas
    if pemilih is not None:
        top = max(top, *(max(row.l, row.p, row.jumlah) for _, _, _, row in _lp_rows(form)))
    if surat is not None:
        top = max(top, surat.diterima, surat.digunakan, surat.rusak, surat.sisa)
    if disabilitas is not None:
        top = max(top, disabilitas.l, disabilitas.p, disabilitas.jumlah)
    if form.suara_calon:
        top = max(top, max(form.suara_calon.values()))
    for party in form.suara_partai or ():
        top = max(top, party.suara_partai, party.jumlah, *party.suara_calon.values())
    return top


def _box_range(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if _max_box(form) <= BOX_MAX:
        return _OK
    return [
        _violation("BOX_RANGE", path, label_id=label_id, label_en=label_en, value=value)
        for path, label_id, label_en, value in _boxes(form)
        if value > BOX_MAX
    ]


def _lp_rows(form: CHasil) -> Iterator[tuple[str, str, str, LP]]:
    """Rows with L, P and L+P columns as (field path, label id, label en, row)."""
    pemilih = form.pemilih
    if pemilih is not None:
        for name, row_id, row_en in _PEMILIH_ROWS:
            yield f"pemilih.{name}", row_id, row_en, getattr(pemilih, name)
    if form.disabilitas is not None:
        yield "disabilitas", *_DISABILITAS_ROW, form.disabilitas


def _lp_sum(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    return [
        _violation(
            "LP_SUM",
            f"{path}.jumlah",
            row_id=row_id,
            row_en=row_en,
            l=row.l,
            p=row.p,
            total=row.l + row.p,
            jumlah=row.jumlah,
        )
        for path, row_id, row_en, row in _lp_rows(form)
        if row.l + row.p != row.jumlah
    ]


def _pemilih_total(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    pemilih = form.pemilih
    if pemilih is None:
        return _OK
    b1, b2, b3, b4 = (
        pemilih.pengguna_dpt,
        pemilih.pengguna_dptb,
        pemilih.pengguna_dpk,
        pemilih.pengguna_total,
    )
    if (
        b1.l + b2.l + b3.l == b4.l
        and b1.p + b2.p + b3.p == b4.p
        and b1.jumlah + b2.jumlah + b3.jumlah == b4.jumlah
    ):
        return _OK
    out: list[Violation] = []
    for col, col_label in _COLUMNS:
        v1, v2, v3, v4 = getattr(b1, col), getattr(b2, col), getattr(b3, col), getattr(b4, col)
        if v1 + v2 + v3 != v4:
            out.append(
                _violation(
                    "PEMILIH_TOTAL",
                    f"pemilih.pengguna_total.{col}",
                    col=col_label,
                    b1=v1,
                    b2=v2,
                    b3=v3,
                    b4=v4,
                    total=v1 + v2 + v3,
                )
            )
    return out


def _sah_sum(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if form.suara_sah == ctx.valid_total:
        return _OK
    noun_id, noun_en = _NOUNS[form.contest]
    return [
        _violation(
            "SAH_SUM",
            "suara_sah",
            sah=form.suara_sah,
            total=ctx.valid_total,
            noun_id=noun_id,
            noun_en=noun_en,
        )
    ]


def _party_sum(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    out: list[Violation] = []
    for party in form.suara_partai or ():
        a2 = sum(party.suara_calon.values())
        if party.suara_partai + a2 != party.jumlah:
            out.append(
                _violation(
                    "PARTY_SUM",
                    f"suara_partai.{party.nomor_partai}.jumlah",
                    party=party.nomor_partai,
                    a1=party.suara_partai,
                    a2=a2,
                    total=party.suara_partai + a2,
                    jumlah=party.jumlah,
                )
            )
    return out


def _jumlah_suara(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if form.jumlah_suara is None or form.jumlah_suara == ctx.cast:
        return _OK
    return [
        _violation(
            "JUMLAH_SUARA",
            "jumlah_suara",
            jumlah=form.jumlah_suara,
            sah=form.suara_sah,
            tidak_sah=form.suara_tidak_sah,
            total=ctx.cast,
        )
    ]


def _pengguna_vs_suara(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    pemilih = form.pemilih
    if pemilih is None or pemilih.pengguna_total.jumlah == ctx.cast:
        return _OK
    return [
        _violation(
            "PENGGUNA_VS_SUARA",
            "pemilih.pengguna_total.jumlah",
            sah=form.suara_sah,
            tidak_sah=form.suara_tidak_sah,
            total=ctx.cast,
            b4=pemilih.pengguna_total.jumlah,
        )
    ]


def _surat_digunakan(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    surat = form.surat_suara
    if surat is None or surat.digunakan == ctx.cast:
        return _OK
    return [
        _violation(
            "SURAT_DIGUNAKAN",
            "surat_suara.digunakan",
            digunakan=surat.digunakan,
            sah=form.suara_sah,
            tidak_sah=form.suara_tidak_sah,
            total=ctx.cast,
        )
    ]


def _surat_balance(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    surat = form.surat_suara
    if surat is None:
        return _OK
    total = surat.digunakan + surat.rusak + surat.sisa
    if total == surat.diterima:
        return _OK
    return [
        _violation(
            "SURAT_BALANCE",
            "surat_suara.diterima",
            digunakan=surat.digunakan,
            rusak=surat.rusak,
            sisa=surat.sisa,
            total=total,
            diterima=surat.diterima,
        )
    ]


def _pengguna_dpt_above_dpt(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    pemilih = form.pemilih
    if pemilih is None or ctx.dpt is None or pemilih.pengguna_dpt.jumlah <= ctx.dpt:
        return _OK
    return [
        _violation(
            "PENGGUNA_DPT_ABOVE_DPT",
            "pemilih.pengguna_dpt.jumlah",
            b1=pemilih.pengguna_dpt.jumlah,
            dpt=ctx.dpt,
        )
    ]


def _votes_only_limit(form: CHasil, ctx: FormContext) -> int | None:
    """Most votes a form without section I may carry: roster DPT plus the reserve ballots."""
    if form.pemilih is not None or ctx.tps is None:
        return None
    return ctx.tps.dpt + ctx.reserve


def _votes_above_dpt(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    limit = _votes_only_limit(form, ctx)
    if limit is None or ctx.cast <= limit:
        return _OK
    assert ctx.tps is not None
    return [
        _violation(
            "VOTES_ABOVE_DPT",
            "suara_sah",
            total=ctx.cast,
            dpt=ctx.tps.dpt,
            reserve=ctx.reserve,
            limit=limit,
        )
    ]


def _surat_reserve(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    surat, tps, roster = form.surat_suara, ctx.tps, ctx.roster
    if surat is None or tps is None or roster is None:
        return _OK
    expected = tps.dpt + ctx.reserve
    if abs(surat.diterima - expected) <= ctx.reserve:
        return _OK
    return [
        _violation(
            "SURAT_RESERVE",
            "surat_suara.diterima",
            diterima=surat.diterima,
            dpt=tps.dpt,
            pct=f"{roster.ballot_reserve_pct:g}",
            reserve=ctx.reserve,
            expected=expected,
        )
    ]


def _dpt_mismatch(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    pemilih, tps = form.pemilih, ctx.tps
    if pemilih is None or tps is None:
        return _OK
    row = pemilih.dpt
    if row.l == tps.dpt_l and row.p == tps.dpt_p and row.jumlah == tps.dpt:
        return _OK
    return [
        _violation(
            "DPT_MISMATCH",
            "pemilih.dpt",
            fl=row.l,
            fp=row.p,
            fj=row.jumlah,
            rl=tps.dpt_l,
            rp=tps.dpt_p,
            rj=tps.dpt,
        )
    ]


# A warning although impossible on paper: section III is often filled with registered rather
# than voting disabled voters, and it feeds no tally, so it should not hold back the votes.
def _disabilitas_above_pengguna(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    disabilitas = form.disabilitas
    if disabilitas is None:
        return _OK
    voters = form.pemilih.pengguna_total.jumlah if form.pemilih is not None else ctx.cast
    if disabilitas.jumlah <= voters:
        return _OK
    return [
        _violation(
            "DISABILITAS_ABOVE_PENGGUNA",
            "disabilitas.jumlah",
            disabilitas=disabilitas.jumlah,
            voters=voters,
        )
    ]


def _high_turnout(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    dpt = ctx.dpt
    if dpt is None or dpt < ANOMALY_MIN_VOTES or ctx.cast * 100 <= HIGH_TURNOUT_PCT * dpt:
        return _OK
    limit = _votes_only_limit(form, ctx)
    if limit is not None and ctx.cast > limit:
        return _OK  # already rejected by VOTES_ABOVE_DPT
    return [
        _violation(
            "ANOMALY_HIGH_TURNOUT",
            "suara_sah",
            total=ctx.cast,
            dpt=dpt,
            pct=f"{ctx.cast * 100 / dpt:.1f}",
        )
    ]


def _unanimous(form: CHasil, ctx: FormContext) -> Iterable[Violation]:
    if ctx.valid_total < ANOMALY_MIN_VOTES:
        return _OK
    if form.suara_calon is not None:
        lines = form.suara_calon
    else:
        assert form.suara_partai is not None
        lines = {p.nomor_partai: p.jumlah for p in form.suara_partai}
    if max(lines.values()) != ctx.valid_total:
        return _OK
    info = ctx.contest
    if info is None:
        options = len(lines)
    else:
        options = len(info.candidates) if form.suara_calon is not None else len(info.parties)
    if options < 2:
        return _OK  # a single paslon (against the empty column) wins everything by design
    winner = max(lines, key=lines.__getitem__)
    noun_id, noun_en = _NOUNS[form.contest]
    return [
        _violation(
            "ANOMALY_UNANIMOUS",
            "suara_sah",
            total=ctx.valid_total,
            no=winner,
            noun_id=noun_id,
            noun_en=noun_en,
        )
    ]


# Order is the order of the verdict the operator reads back: identity first, then arithmetic.
FORM_RULES: tuple[Rule, ...] = (
    _election_known,
    _tps_known,
    _contest_known,
    _candidates_known,
    _parties_known,
    _candidates_present,
    _tps_cap,
    _box_range,
    _lp_sum,
    _pemilih_total,
    _sah_sum,
    _party_sum,
    _jumlah_suara,
    _pengguna_vs_suara,
    _surat_digunakan,
    _surat_balance,
    _pengguna_dpt_above_dpt,
    _votes_above_dpt,
    _surat_reserve,
    _dpt_mismatch,
    _disabilitas_above_pengguna,
    _high_turnout,
    _unanimous,
)


def form_context(form: CHasil, roster: ElectionRoster | None) -> FormContext:
    """Look up the form's TPS and contest in the roster and total its votes, once."""
    if roster is not None and roster.election_id != form.election:
        roster = None
    tps = roster.tps.get(form.tps) if roster is not None else None
    contest = roster.contests.get(form.contest) if roster is not None else None
    if tps is not None:
        dpt: int | None = tps.dpt
        assert roster is not None
        reserve = reserve_ballots(tps.dpt, roster.ballot_reserve_pct)
    else:
        dpt = form.pemilih.dpt.jumlah if form.pemilih is not None else None
        reserve = 0
    if form.suara_calon is not None:
        valid_total = sum(form.suara_calon.values())
    else:
        valid_total = sum(p.jumlah for p in form.suara_partai or ())
    return FormContext(
        roster=roster,
        tps=tps,
        contest=contest,
        dpt=dpt,
        reserve=reserve,
        cast=form.suara_sah + form.suara_tidak_sah,
        valid_total=valid_total,
    )


def form_is_clean(form: CHasil, roster: ElectionRoster | None) -> bool:
    """True only if no rule of FORM_RULES reports anything on this form (the fast route)."""
    # Most forms are consistent. This tests each rule's own condition once, on locals, without
    # a call or a context per rule; False means "ask the rules" (they name what is wrong), so
    # it may say False for a clean form but never True for one a rule would flag.
    # tests/unit/test_rules.py holds it to the rules on consistent and corrupted forms.
    if roster is None or roster.election_id != form.election:
        return False  # ELECTION_UNKNOWN
    tps = roster.tps.get(form.tps)
    contest = roster.contests.get(form.contest)
    if tps is None or contest is None:
        return False  # TPS_UNKNOWN, CONTEST_UNKNOWN
    dpt_l, dpt_p = tps.dpt_l, tps.dpt_p
    dpt = dpt_l + dpt_p
    if dpt > roster.max_dpt_per_tps:
        return False  # TPS_CAP
    sah, tidak_sah, jumlah_suara = form.suara_sah, form.suara_tidak_sah, form.jumlah_suara
    cast = sah + tidak_sah
    if jumlah_suara is not None and jumlah_suara != cast:
        return False  # JUMLAH_SUARA
    top = max(sah, tidak_sah, jumlah_suara or 0)
    calon, partai = form.suara_calon, form.suara_partai
    if calon is not None:
        # Known and present: the form's numbers are exactly the roster's.
        if partai is not None or not calon or calon.keys() != contest.candidates:
            return False  # CANDIDATE_UNKNOWN, CANDIDATE_MISSING
        votes = calon.values()
        valid_total = sum(votes)
        best = max(votes)
        top = max(top, best)
    elif partai:
        parties = contest.parties
        valid_total = best = 0
        numbers = set()
        for party in partai:
            no, a1, jumlah, lines = (
                party.nomor_partai, party.suara_partai, party.jumlah, party.suara_calon
            )  # fmt: skip
            listed = parties.get(no)
            if listed is None or not listed.issuperset(lines):
                return False  # PARTY_UNKNOWN, PARTY_CANDIDATE_UNKNOWN
            if lines:
                if a1 + sum(lines.values()) != jumlah:
                    return False  # PARTY_SUM
                top = max(top, a1, jumlah, *lines.values())
            elif a1 != jumlah:
                return False  # PARTY_SUM
            else:
                top = max(top, a1)
            numbers.add(no)
            valid_total += jumlah
            best = max(best, jumlah)
        if len(numbers) != len(partai) or numbers != parties.keys():
            return False  # PARTY_MISSING (or a number twice: let the rules judge)
    else:
        return False
    if sah != valid_total:
        return False  # SAH_SUM
    if valid_total >= ANOMALY_MIN_VOTES and best == valid_total:
        return False  # ANOMALY_UNANIMOUS, unless the contest has a single option
    if dpt >= ANOMALY_MIN_VOTES and cast * 100 > HIGH_TURNOUT_PCT * dpt:
        return False  # ANOMALY_HIGH_TURNOUT (or VOTES_ABOVE_DPT)
    reserve = reserve_ballots(dpt, roster.ballot_reserve_pct)
    pemilih = form.pemilih
    if pemilih is not None:
        a, b, c, d, e = (
            pemilih.dpt,
            pemilih.pengguna_dpt,
            pemilih.pengguna_dptb,
            pemilih.pengguna_dpk,
            pemilih.pengguna_total,
        )
        al, ap, aj, bl, bp, bj = a.l, a.p, a.jumlah, b.l, b.p, b.jumlah
        cl, cp, cj, dl, dp, dj, el, ep, ej = (
            c.l, c.p, c.jumlah, d.l, d.p, d.jumlah, e.l, e.p, e.jumlah
        )  # fmt: skip
        if not (
            al + ap == aj
            and bl + bp == bj
            and cl + cp == cj
            and dl + dp == dj
            and el + ep == ej  # LP_SUM
            and bl + cl + dl == el
            and bp + cp + dp == ep
            and bj + cj + dj == ej  # PEMILIH_TOTAL
            and ej == cast  # PENGGUNA_VS_SUARA
            and bj <= dpt  # PENGGUNA_DPT_ABOVE_DPT
            and al == dpt_l
            and ap == dpt_p
            and aj == dpt  # DPT_MISMATCH
        ):
            return False
        top = max(top, al, ap, aj, bl, bp, bj, cl, cp, cj, dl, dp, dj, el, ep, ej)
        voters = ej
    else:
        if cast > dpt + reserve:
            return False  # VOTES_ABOVE_DPT
        voters = cast
    surat = form.surat_suara
    if surat is not None:
        diterima, digunakan, rusak, sisa = surat.diterima, surat.digunakan, surat.rusak, surat.sisa
        if (
            digunakan != cast  # SURAT_DIGUNAKAN
            or digunakan + rusak + sisa != diterima  # SURAT_BALANCE
            or abs(diterima - (dpt + reserve)) > reserve  # SURAT_RESERVE
        ):
            return False
        top = max(top, diterima, digunakan, rusak, sisa)
    disabilitas = form.disabilitas
    if disabilitas is not None:
        fl, fp, fj = disabilitas.l, disabilitas.p, disabilitas.jumlah
        if fl + fp != fj or fj > voters:
            return False  # LP_SUM, DISABILITAS_ABOVE_PENGGUNA
        top = max(top, fl, fp, fj)
    return top <= BOX_MAX  # BOX_RANGE


def _every_rule(form: CHasil, roster: ElectionRoster | None) -> list[Violation]:
    ctx = form_context(form, roster)
    out: list[Violation] = []
    for rule in FORM_RULES:
        out.extend(rule(form, ctx))
    return out


def check_form(form: CHasil, roster: ElectionRoster | None) -> list[Violation]:
    """Every violation of the form against its election's roster (None: election unknown)."""
    if form_is_clean(form, roster):
        return []
    return _every_rule(form, roster)


def validate_submission(sub: SubmissionReceived, roster: ElectionRoster | None) -> list[Violation]:
    """Every violation of a submission: the operator's right to send it, then the form."""
    operator, form = sub.operator, sub.form
    if _may_submit(operator.role, operator.scope, form.tps):
        # In scope (check_scope has nothing to say): the usual case, without building two lists.
        return [] if form_is_clean(form, roster) else _every_rule(form, roster)
    return check_scope(operator, form.tps) + check_form(form, roster)


def rules_markdown() -> str:
    """The rule table of docs/RULES.md, generated from RULES so that code and docs agree."""
    lines = [
        "| Code | Group | Severity | Checks | Pesan (Indonesian) | Message (English) |",
        "|---|---|---|---|---|---|",
    ]
    for spec in _SPECS:
        cells = (
            f"`{spec.code}`",
            spec.group,
            spec.severity.value,
            spec.checks,
            spec.pesan,
            spec.message,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
