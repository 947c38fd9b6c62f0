"""The simulator's requests, rendered once: each channel's request is the one its real sender
makes (signatures the intake accepts), and each answer means what the intake says it means."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from hypothesis import given, settings

from deskpemilu import loadgen
from deskpemilu.simulator.channels import ChannelSecrets, Outcome, Prepared, outcome, prepare
from deskpemilu.simulator.plan import plan_day
from services.intake.signatures import sms_signature_ok, whatsapp_signature_ok
from shared.events import Channel, submission_id_for
from shared.roster import ElectionRoster
from tests.unit.strategies import rosters
from tests.unit.test_simulator_plan import _operators

SECRETS = ChannelSecrets(whatsapp_app_secret="wa-secret", sms_auth_token="sms-token")
BASE = "http://127.0.0.1:8001"


@settings(max_examples=10, deadline=None)
@given(roster=rosters())
def test_every_channel_renders_the_request_its_sender_makes(roster: ElectionRoster) -> None:
    plan = plan_day(roster, _operators(roster), seed=3)
    for send in plan.sends:
        prepared = prepare([send], token="tok", phone="628111", secrets=SECRETS, base_url=BASE)
        assert prepared.channel is send.channel and prepared.items == 1
        if send.channel is Channel.WHATSAPP:
            assert prepared.path == "/v1/webhooks/whatsapp"
            signature = prepared.headers["X-Hub-Signature-256"]
            assert whatsapp_signature_ok(SECRETS.whatsapp_app_secret, prepared.body, signature)
            message = orjson.loads(prepared.body)["entry"][0]["changes"][0]["value"]
            assert message["messages"][0]["id"] == f"wamid.{send.idempotency_key}"
        elif send.channel is Channel.SMS:
            params = parse_qsl(prepared.body.decode())
            assert dict(params)["MessageSid"] == f"SM{send.idempotency_key}"
            assert sms_signature_ok(SECRETS.sms_auth_token, BASE + prepared.path, params,
                                    prepared.headers["X-Twilio-Signature"])  # fmt: skip
            assert not sms_signature_ok("other", BASE + prepared.path, params,
                                        prepared.headers["X-Twilio-Signature"])  # fmt: skip
        elif send.channel is Channel.BATCH:
            items = orjson.loads(prepared.body)["items"]
            assert [i["idempotency_key"] for i in items] == [send.idempotency_key]
        else:
            assert prepared.path == "/v1/submissions"
            assert prepared.headers["Idempotency-Key"] == send.idempotency_key
            assert orjson.loads(prepared.body)["tps"] == send.form.tps


def _answer(prepared: Prepared, status: int, head: bytes, body: bytes) -> Outcome:
    return outcome(prepared, status, lambda name: loadgen.header(head, name), body)


def test_answers_mean_stored_wait_or_refused() -> None:
    batch = Prepared(Channel.BATCH, "/v1/submissions/batch", {}, b"", 3)
    results = orjson.dumps({"results": [{"status": 202}, {"status": 202}, {"status": 202}]})
    assert _answer(batch, 207, b"http/1.1 207", results) == Outcome(202, None, 3)
    one_waits = orjson.dumps({"results": [{"status": 202}, {"status": 429}, {"status": 202}]})
    assert _answer(batch, 207, b"http/1.1 207", one_waits).status == 429

    whatsapp = Prepared(Channel.WHATSAPP, "/v1/webhooks/whatsapp", {}, b"", 1)
    assert _answer(whatsapp, 200, b"http/1.1 200", b'{"published":true}').status == 202
    # Answered, but not stored: the operator is told to send again later.
    assert _answer(whatsapp, 200, b"http/1.1 200", b'{"published":false}').status == 429

    sms = Prepared(Channel.SMS, "/v1/webhooks/sms", {}, b"", 1)
    published = b"http/1.1 200 ok\r\nx-deskpemilu-published: 1\r\ncontent-length: 0"
    assert _answer(sms, 200, published, b"").status == 202
    assert _answer(sms, 200, b"http/1.1 200 ok\r\ncontent-length: 0", b"").status == 429

    api = Prepared(Channel.API, "/v1/submissions", {}, b"", 1)
    busy = b"http/1.1 503 x\r\nretry-after: 2\r\ncontent-length: 0"
    assert _answer(api, 503, busy, b"") == Outcome(503, 2.0, 1)
    assert _answer(api, 422, b"http/1.1 422 x\r\nretry-after: soon", b"") == Outcome(422, None, 1)


def test_header_lookup_in_a_lower_cased_head() -> None:
    head = b"http/1.1 200 ok\r\ncontent-length: 12\r\nretry-after:  7 \r\nx-a: b"
    assert loadgen.header(head, "retry-after") == "7"
    assert loadgen.header(head, "x-a") == "b"
    assert loadgen.header(head, "content-type") is None


@settings(max_examples=10, deadline=None)
@given(roster=rosters())
def test_the_load_generators_submission_ids_are_those_the_intake_gives(
    roster: ElectionRoster,
) -> None:
    operators = _operators(roster)
    tokens = {op.id: f"token-of-{op.id}" for ops in operators.by_kecamatan.values() for op in ops}
    count = 2 * len(loadgen.form_pairs(roster)) + 3  # past the end: revisions
    requests = loadgen.form_requests(
        roster, operators, tokens, host="h", count=count, start=5, key_prefix="soak-1"
    )
    by_token = {token: op_id for op_id, token in tokens.items()}
    given_ids = []
    for request in requests:
        head = request.split(b"\r\n\r\n", 1)[0].lower()
        token = loadgen.header(head, "authorization")
        key = loadgen.header(head, "idempotency-key")
        assert token is not None and key is not None
        given_ids.append(submission_id_for(by_token[token.removeprefix("bearer ")], key))
    ids = loadgen.form_submission_ids(roster, operators, count=count, start=5, key_prefix="soak-1")
    assert ids == given_ids
    assert len(set(ids)) == count
