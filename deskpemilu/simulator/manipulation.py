"""Manipulation and misreading injected on top of the simulated truth, recorded for the harness.

Each kind turns one TPS's true C.Hasil into the form a manipulator (or a bad OCR read) would send,
with the form's arithmetic kept whole wherever the kind allows it, so that the validator's
checks alone do not catch it:

- ``stuffing``: extra ballots for one paslon, turnout pushed to 95-100% of the DPT.
- ``copied``: the vote lines and invalid votes of another TPS of the same kecamatan that reported
  earlier (section I and II adjusted to the copied total).
- ``shifted``: a share of the local leader's votes moved to another paslon; every sum unchanged.
- ``round``: every vote line rounded to a multiple of ten (sums follow).
- ``misread``: the leading digit of one vote box read as a look-alike digit (1 -> 7, 3 -> 8, ...);
  the totals are recomputed from the lines, as a reading pipeline does, so only the bounds
  (DPT, box range) can stop it.

All functions are pure given their ``random.Random``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from deskpemilu.simulator.plan import DayPlan, Mistake
from services.validator.rules import check_form, has_errors
from shared.form import LP, CHasil, Contest, DataPemilih, SuratSuara
from shared.roster import ElectionRoster


class Manipulation(StrEnum):
    """The kinds of manipulation or misreading the simulator can inject."""

    STUFFING = "stuffing"
    COPIED = "copied"
    SHIFTED = "shifted"
    ROUND = "round"
    MISREAD = "misread"


@dataclass(frozen=True)
class ManipulationRates:
    """Probability per TPS and contest of each kind (at most one per TPS and contest)."""

    stuffing: float = 0.0
    copied: float = 0.0
    shifted: float = 0.0
    round: float = 0.0
    misread: float = 0.0

    @classmethod
    def demo(cls) -> ManipulationRates:
        """The default demo: a few of each, so the dashboard's panels have something to show."""
        return cls(stuffing=0.002, copied=0.002, shifted=0.0, round=0.0, misread=0.003)

    @classmethod
    def uniform(cls, rate: float) -> ManipulationRates:
        """The same rate for every kind (the accuracy harness)."""
        return cls(*(rate for _ in Manipulation))

    def draw(self, rng: random.Random) -> Manipulation | None:
        """Pick at most one kind for a TPS."""
        roll = rng.random()
        for kind in Manipulation:
            roll -= getattr(self, kind.value)
            if roll < 0:
                return kind
        return None


@dataclass(frozen=True)
class Injected:
    """One manipulated TPS in the ground truth: what was done and with which numbers."""

    kind: Manipulation
    contest: str
    tps: str
    detail: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"kind": self.kind.value, "contest": self.contest, "tps": self.tps, **self.detail}


# Digits that OCR and tired eyes confuse (Sirekap 2024: 117 read as 617).
LOOK_ALIKE: Mapping[str, str] = {
    "1": "7",
    "7": "1",
    "3": "8",
    "8": "3",
    "5": "6",
    "6": "5",
    "4": "9",
    "9": "4",
    "2": "7",
    "0": "8",
}


def _lines(form: CHasil) -> dict[int, int]:
    assert form.suara_calon is not None, "manipulation applies to paslon / DPD forms"
    return dict(form.suara_calon)


def _split_lp(total: int, like: LP) -> LP:
    share_l = like.l / like.jumlah if like.jumlah else 0.5
    men = round(total * share_l)
    return LP(l=men, p=total - men, jumlah=total)


def with_votes(form: CHasil, lines: Mapping[int, int], tidak_sah: int) -> CHasil:
    """The form with new vote lines and invalid votes; V.A, V.C, I.B and II follow the new total.

    The change in voters goes to I.B.1 (voters from the DPT); ballots used follow, unused (then
    damaged) ballots take up the difference so that II.1 is unchanged.
    """
    sah = sum(lines.values())
    voters = sah + tidak_sah
    update: dict[str, object] = {
        "suara_calon": dict(lines),
        "suara_sah": sah,
        "suara_tidak_sah": tidak_sah,
        "jumlah_suara": voters if form.jumlah_suara is not None else None,
    }
    p = form.pemilih
    if p is not None:
        from_dpt = max(0, voters - p.pengguna_dptb.jumlah - p.pengguna_dpk.jumlah)
        b1 = _split_lp(from_dpt, p.pengguna_dpt)
        b2, b3 = p.pengguna_dptb, p.pengguna_dpk
        update["pemilih"] = DataPemilih(
            dpt=p.dpt,
            pengguna_dpt=b1,
            pengguna_dptb=b2,
            pengguna_dpk=b3,
            pengguna_total=LP(
                l=b1.l + b2.l + b3.l, p=b1.p + b2.p + b3.p, jumlah=b1.jumlah + b2.jumlah + b3.jumlah
            ),
        )
    s = form.surat_suara
    if s is not None:
        # Unused ballots take up the change, then damaged ones; more votes than ballots received
        # cannot balance and is left for the validator to refuse.
        rusak = max(0, min(s.rusak, s.diterima - voters))
        update["surat_suara"] = SuratSuara(
            diterima=s.diterima,
            digunakan=voters,
            rusak=rusak,
            sisa=max(0, s.diterima - voters - rusak),
        )
    return form.model_copy(update=update)


def stuff(form: CHasil, dpt: int, rng: random.Random) -> tuple[CHasil, dict[str, object]]:
    """Ballots added for one paslon until turnout is 95-100% of the DPT (never above it)."""
    lines = _lines(form)
    p = form.pemilih
    extra_voters = (p.pengguna_dptb.jumlah + p.pengguna_dpk.jumlah) if p is not None else 0
    voters = form.suara_sah + form.suara_tidak_sah
    # Rounded up: rounding to nearest could land a voter short of 95% (189 of 199 is 94.97%).
    target = min(dpt, math.ceil(dpt * rng.uniform(0.95, 1.0))) + extra_voters
    added = max(0, target - voters)
    favoured = rng.choice(sorted(lines))
    lines[favoured] += added
    return with_votes(form, lines, form.suara_tidak_sah), {"added": added, "to": favoured}


def copy_from(form: CHasil, source: CHasil) -> tuple[CHasil, dict[str, object]]:
    """Section IV and V.B of another TPS's form written on this one."""
    return with_votes(form, _lines(source), source.suara_tidak_sah), {"source": source.tps}


def shift(form: CHasil, rng: random.Random) -> tuple[CHasil, dict[str, object]]:
    """25-60% of the leading paslon's votes written to another paslon; every sum kept."""
    lines = _lines(form)
    if len(lines) < 2:
        return form, {}
    leader = max(sorted(lines), key=lambda n: lines[n])
    to = rng.choice([n for n in sorted(lines) if n != leader])
    moved = round(lines[leader] * rng.uniform(0.25, 0.60))
    lines[leader] -= moved
    lines[to] += moved
    return with_votes(form, lines, form.suara_tidak_sah), {
        "moved": moved,
        "from": leader,
        "to": to,
    }


def round_off(form: CHasil) -> tuple[CHasil, dict[str, object]]:
    """Every vote line rounded to the nearest ten (at least ten where it had votes)."""
    lines = {n: max(10, round(v / 10) * 10) if v else 0 for n, v in _lines(form).items()}
    return with_votes(form, lines, form.suara_tidak_sah), {}


def misread(form: CHasil, rng: random.Random) -> tuple[CHasil, dict[str, object]]:
    """The leading digit of one vote box read as its look-alike; totals recomputed from lines."""
    lines = _lines(form)
    candidates = [n for n in sorted(lines) if lines[n] >= 10 and str(lines[n])[0] in LOOK_ALIKE]
    if not candidates:
        return form, {}
    line = rng.choice(candidates)
    written = str(lines[line])
    read = LOOK_ALIKE[written[0]] + written[1:]
    lines[line] = int(read)
    detail: dict[str, object] = {"line": line, "written": int(written), "read": int(read)}
    return with_votes(form, lines, form.suara_tidak_sah), detail


def inject(
    forms: Mapping[str, CHasil],
    dpt: Mapping[str, int],
    order: Sequence[str],
    rates: ManipulationRates,
    rng: random.Random,
) -> tuple[dict[str, CHasil], list[Injected]]:
    """Manipulate some of one contest's forms (TPS code -> form) in report order.

    `order` is the TPS codes in the order their reports arrive: a copied tally comes from a TPS
    of the same kecamatan that reported before. Returns the forms as sent and the ground truth
    of what was injected (kinds that could not apply, e.g. no earlier TPS to copy, are skipped).
    """
    sent = dict(forms)
    injected: list[Injected] = []
    seen_by_kec: dict[str, list[str]] = {}
    for tps in order:
        form = forms[tps]
        kec = ".".join(tps.split(".")[:3])
        earlier = seen_by_kec.setdefault(kec, [])
        kind = rates.draw(rng)
        detail: dict[str, object] = {}
        changed = form
        if kind is Manipulation.STUFFING:
            changed, detail = stuff(form, dpt[tps], rng)
        elif kind is Manipulation.COPIED and earlier:
            source = sent[rng.choice(earlier)]
            changed, detail = copy_from(form, source)
        elif kind is Manipulation.SHIFTED:
            changed, detail = shift(form, rng)
        elif kind is Manipulation.ROUND:
            changed, detail = round_off(form)
        elif kind is Manipulation.MISREAD:
            changed, detail = misread(form, rng)
        if kind is not None and changed != form:
            sent[tps] = changed
            injected.append(Injected(kind, str(form.contest), tps, detail))
        earlier.append(tps)
    return sent, injected


# Paslon contests only: DPD and the party lists have too many lines for these kinds to mean much.
PASLON_CONTESTS = frozenset({Contest.PPWP, Contest.PILGUB, Contest.PILBUP, Contest.PILWALKOT})


def manipulate_plan(
    plan: DayPlan, roster: ElectionRoster, rates: ManipulationRates, seed: int
) -> list[Injected]:
    """Manipulate a planned day in place: the sends and the counted truth carry the new forms.

    Only a TPS whose report is one plain accepted send (no planned mistake) is touched, and only
    when the manipulated form still passes every error rule of the validator, so the planned
    outcome of every send stays right; what was done is returned for the ground truth.
    """
    rng = random.Random(seed * 7919 + 17)
    per_key: dict[tuple[str, str], list[int]] = {}
    for index, send in enumerate(plan.sends):
        per_key.setdefault((str(send.form.contest), send.form.tps), []).append(index)
    injected: list[Injected] = []
    for contest in sorted(c for c in roster.contests if c in PASLON_CONTESTS):
        plain = {
            key[1]: indexes[0]
            for key, indexes in per_key.items()
            if key[0] == contest
            and len(indexes) == 1
            and plan.sends[indexes[0]].expect == "accepted"
            and plan.sends[indexes[0]].mistake is Mistake.NONE
            and key[1] in roster.tps
        }
        forms = {tps: plan.sends[i].form for tps, i in plain.items()}
        order = sorted(forms, key=lambda t: (plan.sends[plain[t]].at_s, t))
        dpt = {tps: roster.tps[tps].dpt for tps in forms}
        sent, done = inject(forms, dpt, order, rates, rng)
        for record in done:
            form = sent[record.tps]
            if has_errors(check_form(form, roster)):
                continue
            index = plain[record.tps]
            plan.sends[index] = dataclasses.replace(plan.sends[index], form=form)
            plan.counted[(str(contest), record.tps)] = form
            injected.append(record)
    return injected
