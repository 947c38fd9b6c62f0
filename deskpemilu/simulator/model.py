"""The heterogeneous truth of a simulated election day: who votes how, where, and when it arrives.

Pure and seedable: the same roster, contest and seed always give the same numbers; nothing here
does I/O. The model (docs/QUICKCOUNT.md, "Simulation model"):

- Vote shares are logit-normal in a hierarchy. Each vote line j (paslon, or party for DPR/DPRD)
  has a kabupaten log-weight log(base_j); a kecamatan adds an effect drawn around it (sd
  ``kecamatan_sd``), a desa adds one around its kecamatan (``desa_sd``), a TPS one around its desa
  (``tps_sd``); the TPS's shares are the softmax of the sum, and its valid votes are split by a
  multinomial draw. Part of each kecamatan effect follows the kecamatan's remoteness (distance
  rank from the regency seat), so that places that report early also vote differently: this is
  what makes a raw running total wrong and a post-stratified one right.
- Turnout (voters from the DPT over the DPT) is logit-normal the same way, with its own spreads,
  common to every contest of the TPS (one voter takes every ballot); voters on the DPTb / DPK and
  invalid ballots are small draws per TPS.
- Arrival: a TPS finishes counting its first contest a log-normal time after polls close, each
  further contest a log-normal while later; its report reaches the desk a log-normal delay after
  the count whose median grows with the kecamatan's remoteness (``remote_delay``), so TPS near
  the regency seat report markedly earlier. Field staff at quick-count sample TPS send straight
  away (``sample_send_minutes``): the sample reports first.

API for other modules (the simulator plan, the quick-count accuracy harness, manipulation
injection): :func:`contest_truth` gives the per-TPS true results of one contest as a
:class:`ContestTruth` (arrays, plus :meth:`ContestTruth.result` for one TPS as a
:class:`TpsResult`); :func:`turnout_truth` the voters per TPS; :func:`report_times` when each TPS
reports each contest; :func:`kecamatan_remoteness` the distance rank used by both.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from shared.form import Contest
from shared.roster import ElectionRoster

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

POLLS_CLOSE_S = 13 * 3600  # polls close at 13:00 local time; counting starts right after

# Kabupaten shares near the published Banyuasin and national figures. Contests without an entry
# get shares drawn per seed (candidates: flat Dirichlet; parties: a few big ones, a long tail).
BASE_SHARES: dict[Contest, dict[int, float]] = {
    Contest.PPWP: {1: 0.15, 2: 0.72, 3: 0.13},
    Contest.PILBUP: {1: 0.60, 2: 0.40},
    Contest.PILGUB: {1: 0.46, 2: 0.27, 3: 0.27},
}

# The seat of a regency (ibu kota kabupaten) by kabko code: the least remote kecamatan.
REGENCY_SEATS: dict[str, str] = {"16.07": "16.07.03"}  # Banyuasin: Pangkalan Balai, Banyuasin III


@dataclass(frozen=True)
class TruthParams:
    """Parameters of the model; spreads are standard deviations on the log / logit scale."""

    kecamatan_sd: float = 0.50
    desa_sd: float = 0.30
    tps_sd: float = 0.25
    remoteness_weight: float = 0.7  # share of kecamatan-effect variance that follows remoteness
    turnout: float = 0.78  # kabupaten median of voters from the DPT / DPT
    turnout_kecamatan_sd: float = 0.40
    turnout_desa_sd: float = 0.22
    turnout_tps_sd: float = 0.15
    turnout_max: float = 0.90  # keeps every TPS under the validator's high-turnout warning
    invalid_mean: float = 0.02  # suara tidak sah / voters, on average
    count_minutes: float = 30.0  # median minutes to count the first contest
    count_sd: float = 0.3  # log-normal spread of counting times
    contest_minutes: float = 25.0  # median minutes for each further contest
    contest_sd: float = 0.4
    send_minutes: float = 30.0  # median minutes from a finished count to its report, at the seat
    send_sd: float = 0.6
    remote_delay: float = 2.5  # the most remote kecamatan's reports take (1 + this) times as long
    sample_send_minutes: float = 5.0  # quick-count field staff send a photo straight away


DEFAULT_PARAMS = TruthParams()


def _stream(seed: int, *keys: str) -> np.random.Generator:
    """An independent generator per (seed, purpose): adding a contest changes no other draw."""
    return np.random.default_rng([seed & 0xFFFFFFFF, *(zlib.crc32(k.encode()) for k in keys)])


@dataclass(frozen=True)
class _Layout:
    """TPS in code order with the index of their kecamatan and desa."""

    tps: tuple[str, ...]
    kecamatan: tuple[str, ...]  # distinct, code order
    desa: tuple[str, ...]
    kec_index: IntArray  # per TPS
    desa_index: IntArray
    desa_kec: IntArray  # per desa: its kecamatan's index
    dpt: IntArray


def _layout(roster: ElectionRoster) -> _Layout:
    codes = tuple(sorted(roster.tps))
    kec = tuple(sorted({roster.tps[c].kecamatan_code for c in codes}))
    desa = tuple(sorted({roster.tps[c].desa_code for c in codes}))
    kpos = {k: i for i, k in enumerate(kec)}
    dpos = {d: i for i, d in enumerate(desa)}
    return _Layout(
        tps=codes,
        kecamatan=kec,
        desa=desa,
        kec_index=np.array([kpos[roster.tps[c].kecamatan_code] for c in codes], dtype=np.int64),
        desa_index=np.array([dpos[roster.tps[c].desa_code] for c in codes], dtype=np.int64),
        desa_kec=np.array([kpos[d.rsplit(".", 1)[0]] for d in desa], dtype=np.int64),
        dpt=np.array([roster.tps[c].dpt for c in codes], dtype=np.int64),
    )


def kecamatan_remoteness(roster: ElectionRoster) -> dict[str, float]:
    """Each kecamatan's distance rank from the regency seat, 0 (the seat) to 1 (the farthest).

    Geography does not change between simulated days, so this depends on the roster only: the
    seat from REGENCY_SEATS (else the kecamatan with the lowest code), the others in a fixed
    pseudo-random order derived from their codes.
    """
    kec = sorted({t.kecamatan_code for t in roster.tps.values()})
    if len(kec) == 1:
        return {kec[0]: 0.0}
    kabko = ".".join(kec[0].split(".")[:2])
    seat = REGENCY_SEATS.get(kabko, kec[0])
    if seat not in kec:
        seat = kec[0]
    others = sorted((k for k in kec if k != seat), key=lambda k: (zlib.crc32(k.encode()), k))
    ordered = [seat, *others]
    return {k: i / (len(ordered) - 1) for i, k in enumerate(ordered)}


def _remoteness_z(roster: ElectionRoster, layout: _Layout) -> FloatArray:
    """Remoteness per kecamatan (layout order), centred and scaled to unit variance."""
    rem = kecamatan_remoteness(roster)
    r = np.array([rem[k] for k in layout.kecamatan], dtype=np.float64)
    sd = float(r.std())
    return (r - r.mean()) / sd if sd > 0 else np.zeros_like(r)


def _hierarchy(
    rng: np.random.Generator,
    layout: _Layout,
    remote_z: FloatArray,
    width: int,
    sds: tuple[float, float, float],
    remoteness_weight: float,
) -> FloatArray:
    """Kecamatan + desa + TPS effects, shape (n_tps, width); kecamatan partly along remoteness."""
    kec_sd, desa_sd, tps_sd = sds
    direction = rng.standard_normal(width)
    own = rng.standard_normal((len(layout.kecamatan), width))
    along = math.sqrt(remoteness_weight)
    kec = kec_sd * (along * np.outer(remote_z, direction) + math.sqrt(1 - remoteness_weight) * own)
    desa = desa_sd * rng.standard_normal((len(layout.desa), width))
    tps = tps_sd * rng.standard_normal((len(layout.tps), width))
    effects: FloatArray = kec[layout.kec_index] + desa[layout.desa_index] + tps
    return effects


@dataclass(frozen=True)
class TurnoutTruth:
    """Voters per TPS (layout order), common to every contest of the election."""

    tps: tuple[str, ...]
    dpt: IntArray
    from_dpt: IntArray  # pengguna hak pilih from the DPT
    dptb: IntArray
    dpk: IntArray

    @property
    def voters(self) -> IntArray:
        """Everyone who voted: DPT + DPTb + DPK."""
        total: IntArray = self.from_dpt + self.dptb + self.dpk
        return total


def turnout_truth(
    roster: ElectionRoster, seed: int, params: TruthParams = DEFAULT_PARAMS
) -> TurnoutTruth:
    """Who votes at each TPS (the same for every contest of the day)."""
    layout = _layout(roster)
    rng = _stream(seed, roster.election_id, "turnout")
    effects = _hierarchy(
        rng, layout, _remoteness_z(roster, layout), 1,
        (params.turnout_kecamatan_sd, params.turnout_desa_sd, params.turnout_tps_sd),
        params.remoteness_weight,
    )[:, 0]  # fmt: skip
    logit = math.log(params.turnout / (1 - params.turnout)) + effects
    rate = np.minimum(1 / (1 + np.exp(-logit)), params.turnout_max)
    # Never above 95% of the DPT (the validator's warning) nor above the ballots received: a
    # small TPS can draw more than that from the binomial, so its voters are capped too.
    cap = np.floor(layout.dpt * 0.95).astype(np.int64)
    from_dpt = np.minimum(rng.binomial(layout.dpt, rate).astype(np.int64), cap)
    dptb = rng.choice(np.array([0, 0, 0, 1, 2, 3]), size=len(layout.tps)).astype(np.int64)
    dpk = rng.choice(np.array([0, 0, 0, 0, 1, 2]), size=len(layout.tps)).astype(np.int64)
    extra = np.minimum(dptb + dpk, np.maximum(cap - from_dpt, 0))
    dpk = np.minimum(dpk, extra)
    dptb = extra - dpk
    return TurnoutTruth(layout.tps, layout.dpt, from_dpt, dptb, dpk)


@dataclass(frozen=True)
class TpsResult:
    """The true result of one contest at one TPS."""

    tps: str
    dpt: int
    from_dpt: int
    dptb: int
    dpk: int
    suara_sah: int
    suara_tidak_sah: int
    votes: dict[int, int]  # candidate number (or party number for party lists) -> votes

    @property
    def voters(self) -> int:
        """Everyone who voted at the TPS."""
        return self.from_dpt + self.dptb + self.dpk


@dataclass(frozen=True)
class ContestTruth:
    """True results of one contest at every TPS of the roster, as arrays in TPS code order."""

    election: str
    contest: Contest
    tps: tuple[str, ...]
    kecamatan: tuple[str, ...]  # per TPS
    lines: tuple[int, ...]  # candidate numbers, or party numbers for party lists
    turnout: TurnoutTruth
    suara_sah: IntArray
    suara_tidak_sah: IntArray
    votes: IntArray  # shape (len(tps), len(lines))

    @property
    def line_keys(self) -> tuple[str, ...]:
        """The aggregator's keys of the lines: 'c2' for paslon 2, 'p3' for party 3."""
        prefix = "p" if self.contest.is_party_list else "c"
        return tuple(f"{prefix}{n}" for n in self.lines)

    @cached_property
    def index(self) -> dict[str, int]:
        """TPS code -> row."""
        return {code: i for i, code in enumerate(self.tps)}

    def result(self, tps: str) -> TpsResult:
        """The true result at one TPS."""
        i = self.index[tps]
        t = self.turnout
        return TpsResult(
            tps=tps, dpt=int(t.dpt[i]), from_dpt=int(t.from_dpt[i]), dptb=int(t.dptb[i]),
            dpk=int(t.dpk[i]), suara_sah=int(self.suara_sah[i]),
            suara_tidak_sah=int(self.suara_tidak_sah[i]),
            votes={n: int(v) for n, v in zip(self.lines, self.votes[i], strict=True)},
        )  # fmt: skip

    def final_shares(self) -> dict[int, float]:
        """Each line's share of the valid votes over the whole roster: the final result."""
        total = int(self.suara_sah.sum())
        sums = self.votes.sum(axis=0)
        return {
            n: (int(v) / total if total else 0.0) for n, v in zip(self.lines, sums, strict=True)
        }

    def tps_shares(self) -> FloatArray:
        """Each TPS's shares of its valid votes, shape (len(tps), len(lines))."""
        sah = np.maximum(self.suara_sah, 1).astype(np.float64)
        shares: FloatArray = self.votes / sah[:, None]
        return shares


def _base_shares(contest: Contest, lines: Sequence[int], rng: np.random.Generator) -> FloatArray:
    base = BASE_SHARES.get(contest)
    if base is not None and all(n in base for n in lines):
        w = np.array([base[n] for n in lines], dtype=np.float64)
    elif contest.is_party_list:
        w = rng.gamma(0.6, 1.0, size=len(lines)) + 1e-3
    else:
        w = rng.gamma(1.5, 1.0, size=len(lines)) + 1e-3
    shares: FloatArray = w / w.sum()
    return shares


def contest_truth(
    roster: ElectionRoster, contest: Contest, seed: int, params: TruthParams = DEFAULT_PARAMS
) -> ContestTruth:
    """True results of one contest at every TPS of the roster for one simulated day.

    Raises KeyError when the roster does not hold the contest.
    """
    info = roster.contests[contest]
    lines = tuple(sorted(info.parties if contest.is_party_list else info.candidates))
    layout = _layout(roster)
    turnout = turnout_truth(roster, seed, params)
    rng = _stream(seed, roster.election_id, str(contest))
    voters = turnout.voters
    invalid_rate = rng.beta(2.0, 2.0 / params.invalid_mean - 2.0, size=len(layout.tps))
    tidak_sah = np.minimum(rng.binomial(voters, invalid_rate), voters).astype(np.int64)
    sah = voters - tidak_sah
    base = _base_shares(contest, lines, rng)
    effects = _hierarchy(
        rng, layout, _remoteness_z(roster, layout), len(lines),
        (params.kecamatan_sd, params.desa_sd, params.tps_sd), params.remoteness_weight,
    )  # fmt: skip
    logw = np.log(base)[None, :] + effects
    logw -= logw.max(axis=1, keepdims=True)
    probs = np.exp(logw)
    probs /= probs.sum(axis=1, keepdims=True)
    votes = np.zeros((len(layout.tps), len(lines)), dtype=np.int64)
    for i in range(len(layout.tps)):
        votes[i] = rng.multinomial(int(sah[i]), probs[i])
    if len(lines) > 1:
        # A TPS where one line takes every vote trips the validator's unanimity warning; real
        # counts this lopsided are rare, so hand one vote to the runner-up.
        full = np.flatnonzero((votes.max(axis=1) == sah) & (sah > 0))
        for row in full:
            top = int(np.argmax(votes[row]))
            other = next(int(k) for k in np.argsort(probs[row])[::-1] if k != top)
            votes[row, top] -= 1
            votes[row, other] += 1
    return ContestTruth(
        election=roster.election_id, contest=contest, tps=layout.tps,
        kecamatan=tuple(layout.kecamatan[k] for k in layout.kec_index), lines=lines,
        turnout=turnout, suara_sah=sah, suara_tidak_sah=tidak_sah, votes=votes,
    )  # fmt: skip


def report_times(
    roster: ElectionRoster,
    contests: Sequence[Contest],
    seed: int,
    *,
    sample: Collection[str] = (),
    params: TruthParams = DEFAULT_PARAMS,
) -> dict[Contest, dict[str, float]]:
    """When each TPS's count of each contest is ready: seconds since midnight, local time.

    Contests are counted one after another in the given order. TPS in remote kecamatan take
    longer; TPS of the quick-count sample report first.
    """
    layout = _layout(roster)
    rem = kecamatan_remoteness(roster)
    rng = _stream(seed, roster.election_id, "arrival")
    n = len(layout.tps)
    slow = np.array([1 + params.remote_delay * rem[k] for k in layout.kecamatan])[layout.kec_index]
    chosen = set(sample)
    in_sample = np.array([c in chosen for c in layout.tps], dtype=bool)
    # The delay from a finished count to its report: the same for every contest of a TPS.
    send = np.where(
        in_sample,
        np.exp(rng.normal(math.log(params.sample_send_minutes * 60), 0.5, size=n)),
        slow * np.exp(rng.normal(math.log(params.send_minutes * 60), params.send_sd, size=n)),
    )
    counted = POLLS_CLOSE_S + np.exp(
        rng.normal(math.log(params.count_minutes * 60), params.count_sd, size=n)
    )
    times: dict[Contest, dict[str, float]] = {}
    for number, contest in enumerate(contests):
        if number:
            counted = counted + np.exp(
                rng.normal(math.log(params.contest_minutes * 60), params.contest_sd, size=n)
            )
        at = counted + send
        times[contest] = {c: float(t) for c, t in zip(layout.tps, at, strict=True)}
    return times
