"""Pure planning of a simulated election day: results, arrivals, channels, mistakes."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from deskpemilu.simulator.model import (
    BASE_SHARES,
    TpsResult,
    TruthParams,
    contest_truth,
    report_times,
)
from shared.events import Channel, OperatorRef, Role
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai, SuratSuara
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

# Counting goes contest by contest after polls close, in this order.
COUNT_ORDER = (
    Contest.PPWP,
    Contest.PILGUB,
    Contest.PILBUP,
    Contest.PILWALKOT,
    Contest.DPD,
    Contest.DPR,
    Contest.DPRD_PROV,
    Contest.DPRD_KABKO,
)


class Mistake(StrEnum):
    """What goes wrong with one TPS's report (at most one kind per TPS and contest)."""

    NONE = "none"
    TYPO_SAH = "typo_sah"  # suara sah written wrong; rejected, then resent right
    ABOVE_DPT = "above_dpt"  # pengguna far above DPT; rejected, then resent right
    RETRY = "retry"  # the same request sent twice (weak signal): counted once
    RESEND_SAME = "resend_same"  # the same numbers sent again under a new key: a duplicate
    REVISION = "revision"  # wrong but consistent numbers, corrected later by the same operator
    CONFLICT = "conflict"  # a second operator sends other numbers: disputed, first kept
    UNKNOWN_TPS = "unknown_tps"  # an extra form for a TPS that is not in the roster


@dataclass(frozen=True)
class MistakeRates:
    """Probability of each mistake per TPS and contest."""

    typo_sah: float = 0.02
    above_dpt: float = 0.005
    retry: float = 0.03
    resend_same: float = 0.01
    revision: float = 0.02
    conflict: float = 0.005
    unknown_tps: float = 0.002

    def draw(self, rng: random.Random) -> Mistake:
        """Pick at most one mistake for a report."""
        roll = rng.random()
        for mistake in (
            Mistake.TYPO_SAH,
            Mistake.ABOVE_DPT,
            Mistake.RETRY,
            Mistake.RESEND_SAME,
            Mistake.REVISION,
            Mistake.CONFLICT,
            Mistake.UNKNOWN_TPS,
        ):
            roll -= getattr(self, mistake.value)
            if roll < 0:
                return mistake
        return Mistake.NONE


@dataclass(frozen=True)
class Send:
    """One message an operator sends at a moment of the day."""

    at_s: float  # seconds since midnight, simulated
    channel: Channel
    operator: OperatorRef
    idempotency_key: str
    form: CHasil
    expect: str  # accepted | rejected:<CODE> | duplicate | conflict | revision
    mistake: Mistake = Mistake.NONE


@dataclass(frozen=True)
class SilenceRates:
    """How many TPS go quiet: ``silent`` send nothing at all; ``quit`` send their first
    contest(s) in the count order and then nothing (a flat battery, no signal, gone home)."""

    silent: float = 0.0
    quit: float = 0.0

    def __post_init__(self) -> None:
        if not (self.silent >= 0 and self.quit >= 0 and self.silent + self.quit <= 1):
            raise ValueError("silence rates must be in [0, 1] and sum to at most 1")

    def stop_after(self, rng: random.Random, contests: int) -> int | None:
        """How many contests a TPS reports before going quiet (None: all of them)."""
        if not self.silent and not self.quit:
            return None
        roll = rng.random()
        if roll < self.silent:
            return 0
        if roll < self.silent + self.quit:
            return rng.randint(1, contests - 1) if contests > 1 else 0
        return None


@dataclass
class DayPlan:
    """Every send of the day in time order, and the final result that should be counted."""

    sends: list[Send]
    counted: dict[tuple[str, str], CHasil] = field(default_factory=dict)  # (contest, tps) -> form
    disputed: set[tuple[str, str]] = field(default_factory=set)
    # The contests planned, and the (contest, tps) pairs the simulator left silent on purpose.
    contests: tuple[str, ...] = ()
    silenced: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class Operators:
    """The roster's operators by kecamatan: the usual sender and a second one for conflicts."""

    by_kecamatan: dict[str, list[OperatorRef]]

    @classmethod
    def from_list(cls, operators: Sequence[OperatorRef]) -> Operators:
        """Group operators of role 'operator' by each kecamatan of their scope."""
        grouped: dict[str, list[OperatorRef]] = {}
        for op in sorted(operators, key=lambda o: o.id):
            if op.role is not Role.OPERATOR:
                continue
            for area in op.scope:
                if area.count(".") == 2:  # a kecamatan code 16.07.01
                    grouped.setdefault(area, []).append(op)
        return cls(grouped)

    def sender(self, kecamatan: str) -> OperatorRef:
        """The operator who usually reports this kecamatan."""
        return self.by_kecamatan[kecamatan][0]

    def other(self, kecamatan: str) -> OperatorRef | None:
        """A second operator of the kecamatan, if the roster has one."""
        ops = self.by_kecamatan.get(kecamatan, [])
        return ops[1] if len(ops) > 1 else None


def _split(total: int, shares: Sequence[float], rng: random.Random) -> list[int]:
    """Split total into integer parts near the given shares, summing exactly to total."""
    noisy = [max(0.001, s * rng.uniform(0.7, 1.3)) for s in shares]
    scale = total / sum(noisy)
    parts = [int(s * scale) for s in noisy]
    for i in rng.sample(range(len(parts)), k=len(parts)):
        if sum(parts) >= total:
            break
        parts[i] += 1
    parts[0] += total - sum(parts)
    return parts


def _lp(total: int, share_l: float) -> LP:
    men = round(total * share_l)
    return LP(l=men, p=total - men, jumlah=total)


def true_form(
    election: str,
    contest: ContestInfo,
    tps: TpsInfo,
    rng: random.Random,
    *,
    reserve_pct: float,
    result: TpsResult | None = None,
) -> CHasil:
    """A consistent C.Hasil for one TPS: every section present, every rule satisfied.

    With ``result`` (from deskpemilu.simulator.model) the form carries those true numbers; rng
    only splits a party's votes among its candidates. Without it, plain shares near BASE_SHARES
    (for benchmarks that only need valid forms).
    """
    if result is None:
        result = _plain_result(contest, tps, rng)
    from_dpt, dptb, dpk = result.from_dpt, result.dptb, result.dpk
    share_l = tps.dpt_l / tps.dpt if tps.dpt else 0.5
    voters = result.voters
    tidak_sah = result.suara_tidak_sah
    sah = result.suara_sah
    pemilih = DataPemilih(
        dpt=LP(l=tps.dpt_l, p=tps.dpt_p, jumlah=tps.dpt),
        pengguna_dpt=_lp(from_dpt, share_l),
        pengguna_dptb=_lp(dptb, share_l),
        pengguna_dpk=_lp(dpk, share_l),
        pengguna_total=LP(
            l=_lp(from_dpt, share_l).l + _lp(dptb, share_l).l + _lp(dpk, share_l).l,
            p=_lp(from_dpt, share_l).p + _lp(dptb, share_l).p + _lp(dpk, share_l).p,
            jumlah=voters,
        ),
    )
    received = tps.dpt + math.ceil(tps.dpt * reserve_pct / 100)
    damaged = max(0, min(received - voters, rng.choice((0, 0, 1, 2))))
    surat = SuratSuara(
        diterima=received, digunakan=voters, rusak=damaged, sisa=received - voters - damaged
    )
    if contest.contest.is_party_list:
        partai = []
        for number in sorted(contest.parties):
            votes = result.votes.get(number, 0)
            candidates = sorted(contest.parties[number])
            a1 = round(votes * rng.uniform(0.2, 0.5)) if candidates else votes
            lines = (
                _split(votes - a1, [rng.random() for _ in candidates], rng) if candidates else []
            )
            partai.append(
                SuaraPartai(
                    nomor_partai=number,
                    suara_partai=a1,
                    suara_calon=dict(zip(candidates, lines, strict=True)),
                    jumlah=votes,
                )
            )
        return CHasil(
            election=election, contest=contest.contest, tps=tps.code, pemilih=pemilih,
            surat_suara=surat, suara_partai=partai, suara_sah=sah, suara_tidak_sah=tidak_sah,
            jumlah_suara=voters,
        )  # fmt: skip
    numbers = sorted(contest.candidates)
    return CHasil(
        election=election, contest=contest.contest, tps=tps.code, pemilih=pemilih,
        surat_suara=surat, suara_calon={n: result.votes.get(n, 0) for n in numbers},
        suara_sah=sah, suara_tidak_sah=tidak_sah, jumlah_suara=voters,
    )  # fmt: skip


def _plain_result(contest: ContestInfo, tps: TpsInfo, rng: random.Random) -> TpsResult:
    """Numbers for one TPS with every TPS alike: each share times uniform(0.7, 1.3)."""
    from_dpt = round(tps.dpt * rng.uniform(0.65, 0.88))
    dptb = rng.choice((0, 0, 0, 1, 2, 3))
    dpk = rng.choice((0, 0, 0, 0, 1, 2))
    voters = from_dpt + dptb + dpk
    tidak_sah = min(voters, round(voters * rng.uniform(0.0, 0.04)))
    sah = voters - tidak_sah
    if contest.contest.is_party_list:
        numbers = sorted(contest.parties)
        weights = [rng.random() ** 2 for _ in numbers]
    else:
        numbers = sorted(contest.candidates)
        base = BASE_SHARES.get(contest.contest, {})
        weights = [base.get(n, 1.0 / len(numbers)) for n in numbers]
    lines = _split(sah, weights, rng)
    return TpsResult(
        tps=tps.code, dpt=tps.dpt, from_dpt=from_dpt, dptb=dptb, dpk=dpk, suara_sah=sah,
        suara_tidak_sah=tidak_sah, votes=dict(zip(numbers, lines, strict=True)),
    )  # fmt: skip


def _other_numbers(form: CHasil, rng: random.Random) -> CHasil:
    """The same TPS with two vote lines moved by a few votes: consistent, but different."""
    moved = rng.randint(1, 5)
    if form.suara_calon is not None:
        lines = dict(form.suara_calon)
        keys = sorted(lines)
        if len(keys) < 2:
            return form
        src = max(keys, key=lambda k: lines[k])
        dst = next(k for k in keys if k != src)
        moved = min(moved, lines[src])
        lines[src] -= moved
        lines[dst] += moved
        return form.model_copy(update={"suara_calon": lines})
    assert form.suara_partai is not None
    parties = list(form.suara_partai)
    if len(parties) < 2:
        return form
    src_i = max(range(len(parties)), key=lambda i: parties[i].suara_partai)
    dst_i = 0 if src_i != 0 else 1
    moved = min(moved, parties[src_i].suara_partai)
    giver, taker = parties[src_i], parties[dst_i]
    parties[src_i] = giver.model_copy(
        update={"suara_partai": giver.suara_partai - moved, "jumlah": giver.jumlah - moved}
    )
    parties[dst_i] = taker.model_copy(
        update={"suara_partai": taker.suara_partai + moved, "jumlah": taker.jumlah + moved}
    )
    return form.model_copy(update={"suara_partai": parties})


def _unknown_tps_code(roster: ElectionRoster, tps: TpsInfo) -> str:
    for number in range(899, 1, -1):
        code = f"{tps.desa_code}.{number:03d}"
        if code not in roster.tps:
            return code
    raise ValueError(f"no free TPS number in {tps.desa_code}")


def plan_day(
    roster: ElectionRoster,
    operators: Operators,
    *,
    seed: int = 2024,
    rates: MistakeRates | None = None,
    channel_mix: dict[Channel, float] | None = None,
    contests: Sequence[Contest] | None = None,
    tps_limit: int | None = None,
    sample: Collection[str] = (),
    truth_params: TruthParams | None = None,
    silence: SilenceRates | None = None,
) -> DayPlan:
    """Plan every report of the day for every TPS and contest of the roster (deterministic).

    The numbers come from the heterogeneous truth model (deskpemilu.simulator.model) for the
    whole roster, so a tps_limit keeps the same TPS results; TPS of a quick-count ``sample``
    report first. With ``silence``, some TPS send nothing or stop after a few contests: their
    pairs are in ``plan.silenced`` and not in ``plan.counted`` (the other TPS' sends stay the
    same as without it: the silence draws have their own random stream).
    """
    rng = random.Random(seed)
    rates = rates or MistakeRates()
    params = truth_params or TruthParams()
    mix = channel_mix or {
        Channel.API: 0.5,
        Channel.BATCH: 0.2,
        Channel.WHATSAPP: 0.2,
        Channel.SMS: 0.1,
    }
    chosen = [c for c in COUNT_ORDER if c in roster.contests and (not contests or c in contests)]
    truths = {c: contest_truth(roster, c, seed, params) for c in chosen}
    # Report times follow the count order of every contest of the roster, chosen or not.
    counted_order = [c for c in COUNT_ORDER if c in roster.contests]
    times = report_times(roster, counted_order, seed, sample=sample, params=params)
    tps_list = sorted(roster.tps.values(), key=lambda t: t.code)[:tps_limit]
    plan = DayPlan(sends=[], contests=tuple(str(c) for c in chosen))
    quiet = random.Random(f"{seed}-silence")
    silence = silence or SilenceRates()
    channels, weights = zip(*mix.items(), strict=True)
    for tps in tps_list:
        sender = operators.sender(tps.kecamatan_code)
        stop_after = silence.stop_after(quiet, len(chosen))
        for index, contest in enumerate(chosen):
            # A silent pair still draws its numbers, so every other TPS's sends stay the same.
            target = plan if stop_after is None or index < stop_after else DayPlan(sends=[])
            if target is not plan:
                plan.silenced.add((str(contest), tps.code))
            at = times[contest][tps.code]
            form = true_form(
                roster.election_id, roster.contests[contest], tps, rng,
                reserve_pct=roster.ballot_reserve_pct, result=truths[contest].result(tps.code),
            )  # fmt: skip
            channel = rng.choices(channels, weights)[0]
            # Party-list forms are long: operators send those from the app or a sheet.
            if contest.is_party_list and channel in (Channel.WHATSAPP, Channel.SMS):
                channel = Channel.API
            key = f"sim-{seed}-{contest}-{tps.code}"
            mistake = rates.draw(rng)
            # Text messages carry no section I, so a count above the DPT shows only in the app.
            if mistake is Mistake.ABOVE_DPT and channel in (Channel.WHATSAPP, Channel.SMS):
                channel = Channel.API
            target.sends.extend(
                _sends_for(
                    target, roster, operators, tps, form, sender, channel, key, at, mistake, rng
                )
            )
    plan.sends.sort(key=lambda s: (s.at_s, s.idempotency_key))
    return plan


def _sends_for(
    plan: DayPlan,
    roster: ElectionRoster,
    operators: Operators,
    tps: TpsInfo,
    form: CHasil,
    sender: OperatorRef,
    channel: Channel,
    key: str,
    at: float,
    mistake: Mistake,
    rng: random.Random,
) -> list[Send]:
    ident = (str(form.contest), tps.code)
    good = Send(at, channel, sender, key, form, "accepted")
    later = at + rng.uniform(120, 1800)
    if mistake is Mistake.TYPO_SAH:
        typo = form.model_copy(update={"suara_sah": form.suara_sah + rng.choice((1, 2, 10))})
        bad = Send(at, channel, sender, key + "-typo", typo, "rejected:SAH_SUM", mistake)
        plan.counted[ident] = form
        return [bad, Send(later, channel, sender, key, form, "accepted", mistake)]
    if mistake is Mistake.ABOVE_DPT and form.pemilih is not None:
        inflated = _inflate_above_dpt(form, tps)
        if inflated is not None:
            plan.counted[ident] = form
            return [
                Send(at, channel, sender, key + "-dpt", inflated, "rejected:PENGGUNA_DPT_ABOVE_DPT",
                     mistake),
                Send(later, channel, sender, key, form, "accepted", mistake),
            ]  # fmt: skip
    plan.counted[ident] = form
    if mistake is Mistake.RETRY:
        return [
            good,
            Send(at + rng.uniform(1, 30), channel, sender, key, form, "accepted", mistake),
        ]
    if mistake is Mistake.RESEND_SAME:
        return [good, Send(later, channel, sender, key + "-again", form, "duplicate", mistake)]
    if mistake is Mistake.REVISION:
        wrong = _other_numbers(form, rng)
        if wrong != form:
            return [
                Send(at, channel, sender, key + "-v1", wrong, "accepted", mistake),
                Send(later, channel, sender, key, form, "revision", mistake),
            ]
    if mistake is Mistake.CONFLICT:
        other = operators.other(tps.kecamatan_code)
        different = _other_numbers(form, rng)
        if other is not None and different != form:
            plan.disputed.add(ident)
            return [
                good,
                Send(later, Channel.API, other, key + "-other", different, "conflict", mistake),
            ]
    if mistake is Mistake.UNKNOWN_TPS:
        code = _unknown_tps_code(roster, tps)
        stray = form.model_copy(update={"tps": code})
        return [good, Send(later, channel, sender, key + "-stray", stray, "rejected:TPS_UNKNOWN",
                           mistake)]  # fmt: skip
    return [good]


def _inflate_above_dpt(form: CHasil, tps: TpsInfo) -> CHasil | None:
    """A consistent-looking form whose voters from the DPT exceed the TPS's DPT."""
    assert form.pemilih is not None
    extra = tps.dpt + 5 - form.pemilih.pengguna_dpt.jumlah
    if extra <= 0:
        return None
    p = form.pemilih
    bump = LP(l=p.pengguna_dpt.l + extra, p=p.pengguna_dpt.p, jumlah=p.pengguna_dpt.jumlah + extra)
    total = LP(
        l=p.pengguna_total.l + extra, p=p.pengguna_total.p, jumlah=p.pengguna_total.jumlah + extra
    )
    pemilih = p.model_copy(update={"pengguna_dpt": bump, "pengguna_total": total})
    return form.model_copy(update={"pemilih": pemilih})


def split_at(plan: DayPlan, at_s: float) -> tuple[DayPlan, DayPlan]:
    """The sends whose idempotency key was first used at or before ``at_s``, and the rest.

    A retry travels with its key's first send: one submission, in one part. Both parts share
    the plan's counted results; a caller sends the first part, notes the time, then the second.
    """
    first: dict[tuple[str, str], float] = {}
    for send in plan.sends:
        key = (send.operator.id, send.idempotency_key)
        first[key] = min(first.get(key, send.at_s), send.at_s)
    before = [s for s in plan.sends if first[(s.operator.id, s.idempotency_key)] <= at_s]
    after = [s for s in plan.sends if first[(s.operator.id, s.idempotency_key)] > at_s]
    return (
        dataclasses.replace(plan, sends=before),
        dataclasses.replace(plan, sends=after),
    )
