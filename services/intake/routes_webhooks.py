"""WhatsApp Cloud API and SMS gateway webhooks: texts parsed, published, read back to the sender."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any
from xml.sax.saxutils import escape

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from services.intake.directory import Directory, normalise_phone
from services.intake.incident_parser import (
    format_readback as incident_readback,
)
from services.intake.incident_parser import (
    is_incident_message,
    parse_incident,
)
from services.intake.incidents import IncidentIntake
from services.intake.notifier import Replier, Reply
from services.intake.parser import PARSE_HELP, ParseError, format_readback, parse_message
from services.intake.photos import PhotoTarget
from services.intake.ratelimit import RateLimiter
from services.intake.schemas import ErrorOut, IntakeError, JsonResponse
from services.intake.settings import IntakeSettings
from services.intake.signatures import sms_signature_ok, whatsapp_signature_ok
from services.intake.submissions import Intake, scope_error
from services.intake.whatsapp_media import handle_image
from shared.events import Channel, OperatorRef

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

# Any valid id: the form is re-stamped with the election that holds the parsed contest.
_PLACEHOLDER_ELECTION = "pending-election"

UNKNOWN_NUMBER_TEXT = (
    "Maaf, nomor ini belum terdaftar sebagai operator Desk Pemilu, jadi pesan Anda belum kami "
    "catat. Hubungi admin desk pemilu kecamatan Anda untuk mendaftarkan nomor ini. Terima kasih."
)
NOT_TEXT_TEXT = (
    "Maaf, hanya pesan teks yang bisa dibaca. Kirim hasil TPS sebagai teks; ketik BANTUAN untuk "
    "contoh format."
)


@dataclass(frozen=True)
class TextOutcome:
    """What became of one text: the reply to send (if any) and whether it was published."""

    reply: str | None
    published: bool


def _state(request: Request) -> tuple[IntakeSettings, Intake, Directory, Replier, RateLimiter]:
    state = request.app.state
    return state.settings, state.intake, state.directory, state.replier, state.limiter


async def handle_text(
    request: Request, *, phone: str, text: str, message_id: str, channel: Channel
) -> TextOutcome:
    """Read one operator text and publish it; raises IntakeError(503) when Kafka did not ack."""
    settings, intake, directory, _, limiter = _state(request)
    if not directory.loaded:
        raise IntakeError(
            503,
            "DIRECTORY_UNAVAILABLE",
            "Daftar operator belum termuat; coba lagi sebentar lagi.",
            "The operator directory is not loaded yet; retry shortly.",
            retry_after=settings.retry_after_s,
        )
    row = directory.by_phone(phone)
    if row is None:
        return TextOutcome(UNKNOWN_NUMBER_TEXT, published=False)
    operator = OperatorRef(id=row.id, role=row.role, scope=row.scope, name=row.name)
    wait_s = limiter.acquire(operator.id)
    if wait_s is not None:
        return TextOutcome(
            f"Terlalu banyak pesan dalam waktu singkat. Tunggu {wait_s} detik lalu kirim ulang "
            "pesan yang sama.",
            published=False,
        )
    if is_incident_message(text):
        return await _incident_outcome(request, operator, phone, text, message_id, channel)
    parsed = parse_message(text, election=settings.text_election or _PLACEHOLDER_ELECTION)
    if isinstance(parsed, ParseError):
        if parsed.code == PARSE_HELP:
            return TextOutcome(parsed.hint, published=False)
        return TextOutcome(f"{parsed.pesan}\n\n{parsed.hint}", published=False)
    form = parsed.form
    if not settings.text_election:
        election = directory.election_for(form.contest.value)
        if election is None:
            return TextOutcome(
                f"Pemilihan {form.contest.value} tidak ada dalam daftar pemilihan yang dimuat. "
                "Periksa kata pertama pesan Anda.",
                published=False,
            )
        form = form.model_copy(update={"election": election})
    refused = scope_error(operator, form.tps)
    if refused is not None:
        return TextOutcome(refused.pesan, published=False)
    try:
        accepted, replayed = await intake.submit(
            operator,
            form,
            channel=channel,
            idempotency_key=f"{channel.value}:{message_id}",
            reply_to=normalise_phone(phone),
        )
    except IntakeError as exc:
        if exc.status == 503:
            raise
        return TextOutcome(exc.pesan, published=False)
    request.app.state.latest_forms.note(
        operator.id,
        PhotoTarget(form.election, form.contest.value, form.tps, accepted.submission_id),
    )
    if replayed:
        return TextOutcome(None, published=True)  # the read-back went out the first time
    return TextOutcome(
        f"{format_readback(form, in_sample=directory.in_sample(form.election, form.tps))}\n"
        f"No. kiriman: {str(accepted.submission_id)[:8]}",
        published=True,
    )


def polite(pesan: str, message: str, hint: str = "") -> str:
    """A refusal to a sender: Indonesian first, English in brackets, then the format."""
    text = f"Maaf, laporan belum dicatat. {pesan}\n({message})"
    return f"{text}\n\n{hint}" if hint else text


async def _incident_outcome(
    request: Request,
    operator: OperatorRef,
    phone: str,
    text: str,
    message_id: str,
    channel: Channel,
) -> TextOutcome:
    """A KEJADIAN text: parsed, checked, published to incidents.v1, read back to the sender."""
    incidents: IncidentIntake = request.app.state.incidents
    parsed = parse_incident(text)
    if isinstance(parsed, ParseError):
        return TextOutcome(polite(parsed.pesan, parsed.message, parsed.hint), published=False)
    try:
        accepted, replayed = await incidents.report(
            operator,
            area=parsed.area,
            category=parsed.category,
            text=parsed.text,
            channel=channel,
            idempotency_key=f"{channel.value}:{message_id}",
            reply_to=normalise_phone(phone),
        )
    except IntakeError as exc:
        if exc.status == 503:
            raise
        return TextOutcome(polite(exc.pesan, exc.message), published=False)
    if replayed:
        return TextOutcome(None, published=True)
    return TextOutcome(incident_readback(parsed, str(accepted.incident_id)), published=True)


def _error_response(error: IntakeError) -> JsonResponse:
    return JsonResponse(error.body(), status_code=error.status, headers=error.headers())


_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


@router.get(
    "/whatsapp",
    summary="WhatsApp webhook verification (Meta's hub.challenge)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": "1158201444"}}},
        # Errors are JSON although the 200 is text: spelled out, "model" would file them as text.
        403: {"description": "Wrong verify token", "content": _ERROR_JSON},
        422: {"description": "Malformed query", "content": _ERROR_JSON},
    },
)
async def whatsapp_verify(
    request: Request,
    hub_mode: Annotated[str, Query(alias="hub.mode", examples=["subscribe"])] = "",
    hub_verify_token: Annotated[
        str, Query(alias="hub.verify_token", examples=["<WHATSAPP_VERIFY_TOKEN>"])
    ] = "",
    hub_challenge: Annotated[str, Query(alias="hub.challenge", examples=["1158201444"])] = "",
) -> Response:
    """Echo hub.challenge when Meta subscribes with our verify token."""
    settings: IntakeSettings = request.app.state.settings
    expected = settings.whatsapp_verify_token.get_secret_value()
    if hub_mode == "subscribe" and hmac.compare_digest(
        hub_verify_token.encode(), expected.encode()
    ):
        return PlainTextResponse(hub_challenge)
    return _error_response(
        IntakeError(
            403,
            "VERIFY_TOKEN_MISMATCH",
            "Token verifikasi webhook tidak cocok.",
            "The webhook verify token does not match.",
        )
    )


WHATSAPP_EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "Andi"}, "wa_id": "6281100000101"}],
                        "messages": [
                            {
                                "from": "6281100000101",
                                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEz",
                                "timestamp": "1707890711",
                                "type": "text",
                                "text": {"body": "PPWP#1607011016001#120#250#80#450#5"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}


async def _image_outcome(request: Request, phone: str, message: dict[str, Any]) -> TextOutcome:
    """An image message: a registered sender's photo is fetched, checked, stored and linked."""
    settings, _, directory, _, _ = _state(request)
    row = directory.by_phone(phone) if directory.loaded else None
    if row is None:
        return TextOutcome(UNKNOWN_NUMBER_TEXT, published=False)
    operator = OperatorRef(id=row.id, role=row.role, scope=row.scope, name=row.name)
    reply, stored = await handle_image(
        settings,
        request.app.state.photos,
        request.app.state.latest_forms,
        directory.election_for,
        operator=operator,
        message=message,
    )
    return TextOutcome(reply, published=stored)


def _messages(payload: Any) -> list[dict[str, Any]]:
    """Inbound messages of a Meta webhook payload; delivery statuses and the rest are ignored."""
    found: list[dict[str, Any]] = []
    if not isinstance(payload, dict):
        return found
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                found.extend(m for m in value.get("messages") or [] if isinstance(m, dict))
    return found


@router.post(
    "/whatsapp",
    summary="WhatsApp Cloud API webhook: inbound operator messages",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"example": WHATSAPP_EXAMPLE}},
        },
        "parameters": [
            {
                "name": "X-Hub-Signature-256",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "sha256=<hex HMAC-SHA256 of the raw body with the app secret>",
            }
        ],
    },
    responses={
        200: {"content": {"application/json": {"example": {"received": 1, "published": 1}}}},
        400: {"model": ErrorOut, "description": "Body is not JSON"},
        401: {"model": ErrorOut, "description": "Bad or missing X-Hub-Signature-256"},
        503: {"model": ErrorOut, "description": "Kafka did not acknowledge; Meta retries"},
    },
)
async def whatsapp_inbound(request: Request) -> Response:
    """Check the signature, read each text, publish it, queue the read-back; 200 only after acks."""
    settings, _, _, replier, _ = _state(request)
    body = await request.body()
    if not whatsapp_signature_ok(
        settings.whatsapp_app_secret.get_secret_value(),
        body,
        request.headers.get("x-hub-signature-256"),
    ):
        return _error_response(
            IntakeError(
                401,
                "SIGNATURE_INVALID",
                "Tanda tangan X-Hub-Signature-256 tidak sah.",
                "The X-Hub-Signature-256 signature is not valid.",
            )
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error_response(
            IntakeError(400, "BODY_NOT_JSON", "Isi permintaan bukan JSON.", "The body is not JSON.")
        )
    messages = _messages(payload)
    published = 0
    for message in messages:
        phone = str(message.get("from", ""))
        message_id = str(message.get("id", ""))
        if not phone or not message_id:
            continue
        if message.get("type") == "image":
            try:
                outcome = await _image_outcome(request, phone, message)
            except IntakeError as exc:
                return _error_response(exc)
        elif message.get("type") != "text":
            outcome = TextOutcome(NOT_TEXT_TEXT, published=False)
        else:
            text = str((message.get("text") or {}).get("body", ""))
            try:
                outcome = await handle_text(
                    request, phone=phone, text=text, message_id=message_id, channel=Channel.WHATSAPP
                )
            except IntakeError as exc:
                # 503: Meta delivers the whole payload again later; messages already published
                # are recognised by their message id and not published or answered twice.
                return _error_response(exc)
        published += outcome.published
        if outcome.reply is not None:
            replier.enqueue(Reply(Channel.WHATSAPP, normalise_phone(phone), outcome.reply))
    return JsonResponse({"received": len(messages), "published": published})


def _twiml(text: str | None) -> Response:
    message = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>',
        media_type="application/xml",
    )


@router.post(
    "/sms",
    summary="SMS gateway webhook (form-encoded From, Body, MessageSid)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["From", "Body", "MessageSid"],
                        "properties": {
                            "From": {"type": "string"},
                            "Body": {"type": "string"},
                            "MessageSid": {"type": "string"},
                        },
                    },
                    "example": {
                        "From": "+6281100000101",
                        "Body": "PILBUP#1607011016001#300#150#450#5",
                        "MessageSid": "SM0123456789abcdef0123456789abcdef",
                    },
                }
            },
        },
        "parameters": [
            {
                "name": "X-Twilio-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "example": "base64 HMAC-SHA1(auth token, URL + sorted key+value pairs)",
            }
        ],
    },
    responses={
        200: {
            "content": {
                "application/xml": {
                    "example": '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
                    "Terbaca: Bupati (PILBUP) ...</Message></Response>"
                }
            }
        },
        401: {"model": ErrorOut, "description": "Bad or missing X-Twilio-Signature"},
        422: {"model": ErrorOut, "description": "From, Body or MessageSid missing"},
        503: {"model": ErrorOut, "description": "Kafka did not acknowledge"},
    },
)
async def sms_inbound(request: Request) -> Response:
    """Check the gateway signature, read the text, publish it, answer with TwiML."""
    settings, *_ = _state(request)
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    url = settings.sms_webhook_url or str(request.url)
    if not sms_signature_ok(
        settings.sms_auth_token.get_secret_value(),
        url,
        params,
        request.headers.get("x-twilio-signature"),
    ):
        return _error_response(
            IntakeError(
                401,
                "SIGNATURE_INVALID",
                "Tanda tangan X-Twilio-Signature tidak sah.",
                "The X-Twilio-Signature signature is not valid.",
            )
        )
    values = dict(params)
    phone, text, sid = values.get("From", ""), values.get("Body", ""), values.get("MessageSid", "")
    if not phone or not sid:
        return _error_response(
            IntakeError(
                422,
                "SMS_FIELDS_MISSING",
                "From dan MessageSid wajib ada.",
                "From and MessageSid are required.",
            )
        )
    try:
        outcome = await handle_text(
            request, phone=phone, text=text, message_id=sid, channel=Channel.SMS
        )
    except IntakeError as exc:
        return _error_response(exc)
    # Read-backs to made-up demo numbers are withheld here as in the WhatsApp path.
    _, _, _, replier, _ = _state(request)
    reply = outcome.reply if replier.may_send_to(normalise_phone(phone)) else None
    response = _twiml(reply)
    # Machine-readable for the gateway's logs (and the simulator): was the text stored?
    response.headers["X-Deskpemilu-Published"] = "1" if outcome.published else "0"
    return response
