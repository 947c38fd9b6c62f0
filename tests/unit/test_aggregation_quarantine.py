"""Quarantine in the aggregator's pure decisions: hold, release, reject and what follows them."""

from __future__ import annotations

from collections import Counter

from services.aggregator.aggregation import Decision, Hold, SummaryDelta
from tests.unit.test_aggregation import (
    ADMIN,
    ELECTION,
    OP1,
    TPS_A,
    Store,
    form,
    recomputed,
    review,
    sent,
    summed,
)

KAB = (ELECTION, "PPWP", "16.07")


def test_hold_takes_the_numbers_out_and_keeps_the_tps_reported() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10, 2: 20}, tidak_sah=3))])
    out = store.apply([review(1, "hold", reviewer=ADMIN)])
    assert out.decisions == Counter({Decision.REVIEW: 1})
    assert out.totals[(*KAB, "c1")] == -10 and out.totals[(*KAB, "c2")] == -20
    # Progress still counts the TPS as reported: tps_reported and dpt_reported unchanged.
    assert out.summaries[KAB] == SummaryDelta(-30, -3, -33, 0, 0)
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.hold is Hold.HELD and result.counted.numbers.suara_sah == 30
    assert out.history[0].decision is Decision.REVIEW and out.history[0].note == "hold: review 1"
    assert summed(store) == recomputed(store)


def test_release_puts_back_exactly_the_held_votes() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10, 2: 20}))])
    before = summed(store)
    store.apply([review(1, "hold", reviewer=ADMIN)])
    again = store.apply([review(2, "hold", reviewer=ADMIN)])  # already held: nothing moves
    assert again.totals == {} and again.summaries == {}
    out = store.apply([review(3, "release")])
    assert out.totals[(*KAB, "c1")] == 10 and out.totals[(*KAB, "c2")] == 20
    assert summed(store) == before
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.NONE


def test_a_revision_of_a_held_tps_stays_held_and_a_rejected_one_counts_again() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10}))])
    store.apply([review(1, "hold", reviewer=ADMIN)])
    store.apply([sent(2, OP1, form(votes={1: 12}))])
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.HELD
    assert (*KAB, "c1") not in +store.totals
    store.apply([review(2, "reject")])
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.REJECTED
    assert (*KAB, "c1") not in +store.totals
    store.apply([review(3, "hold", reviewer=ADMIN)])  # a hold does not reopen a rejection
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.REJECTED
    store.apply([sent(3, OP1, form(votes={1: 9}))])
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.NONE
    assert store.totals[(*KAB, "c1")] == 9
    assert summed(store) == recomputed(store)


def test_accepting_another_version_releases_the_hold() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10}))])
    store.apply([sent(2, OP1, form(votes={1: 14}))])
    store.apply([review(1, "hold", reviewer=ADMIN)])
    store.apply([review(2, "accept_version", 1)])
    result = store.results[(ELECTION, "PPWP", TPS_A)]
    assert result.hold is Hold.NONE and store.totals[(*KAB, "c1")] == 10
    assert summed(store) == recomputed(store)


def test_a_hold_by_an_operator_is_refused() -> None:
    store = Store()
    store.apply([sent(1, OP1, form(votes={1: 10}))])
    out = store.apply([review(1, "hold", reviewer=OP1)])
    assert out.decisions == Counter({Decision.REVIEW_IGNORED: 1})
    assert store.results[(ELECTION, "PPWP", TPS_A)].hold is Hold.NONE
