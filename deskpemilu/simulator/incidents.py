"""Incident reports on a simulated day: planned (pure, seeded) and sent through every channel.

`plan_incidents` draws `rate` incidents per TPS (a share `critical_share` of them in a critical
category), each from the kecamatan's usual operator at a random moment of the day, over
WhatsApp, SMS or the JSON route; `IncidentSender` sends them at their moments, signed like Meta
and the SMS gateway sign, retrying on 429/503 like a phone. Incidents never touch the totals,
so `deskpemilu verify` is unchanged; the sender reports how many were stored.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from deskpemilu.simulator.channels import ChannelSecrets
from deskpemilu.simulator.plan import Operators
from services.intake.signatures import sms_signature, whatsapp_signature
from shared.events import Channel, OperatorRef
from shared.incidents import IncidentCategory, IncidentSeverity, default_severity
from shared.roster import ElectionRoster

TEXTS: dict[IncidentCategory, tuple[str, ...]] = {
    IncidentCategory.KERICUHAN: (
        "Dua kelompok pendukung bertengkar di depan TPS, penghitungan dihentikan sementara",
        "Massa mendatangi TPS dan merusak kotak suara",
    ),
    IncidentCategory.PSU: (
        "Warga menuntut pemungutan suara ulang karena ada pemilih dari luar desa",
        "Saksi paslon menuntut PSU, KPPS belum memutuskan",
    ),
    IncidentCategory.INTIMIDASI: (
        "Ada pembagian uang kepada pemilih pagi tadi",
        "Pemilih diancam oleh orang tak dikenal dekat TPS",
    ),
    IncidentCategory.LOGISTIK: (
        "Surat suara PPWP kurang 20 lembar",
        "Segel kotak suara DPRD rusak saat dibuka",
    ),
    IncidentCategory.PETUGAS: ("KPPS kurang dua orang, penghitungan lambat",),
    IncidentCategory.BENCANA: ("Hujan deras, TPS tergenang, pemungutan dipindah ke balai desa",),
    IncidentCategory.LAINNYA: ("Listrik padam di TPS, penghitungan dengan senter",),
}
CRITICAL = tuple(c for c in IncidentCategory if default_severity(c) is IncidentSeverity.CRITICAL)
OTHERS = tuple(c for c in IncidentCategory if c not in CRITICAL)
CHANNEL_SHARES = ((Channel.WHATSAPP, 0.5), (Channel.SMS, 0.2), (Channel.API, 0.3))


@dataclass(frozen=True, slots=True)
class IncidentSend:
    """One planned report: when (fraction of the day), who, where, what, through which channel."""

    at: float
    operator: OperatorRef
    area: str
    category: IncidentCategory
    text: str
    channel: Channel
    key: str

    @property
    def critical(self) -> bool:
        """A critical category (it should raise a desk alert)."""
        return self.category in CRITICAL

    def message(self) -> str:
        """The text an operator types (docs/WHATSAPP_FORMAT.md, KEJADIAN)."""
        return f"KEJADIAN#{self.area}#{self.category.value}#{self.text}"


def plan_incidents(
    roster: ElectionRoster,
    operators: Operators,
    *,
    rate: float,
    critical_share: float,
    seed: int,
    only: set[str] | None = None,
) -> list[IncidentSend]:
    """About rate x TPS incidents (at least one when rate > 0), in time order; pure.

    With `only`, incidents come from those TPS (the day's planned ones, e.g. with --tps-limit).
    """
    if rate <= 0:
        return []
    rng = random.Random(f"incidents-{seed}")
    tps = sorted(
        (
            t
            for t in roster.tps.values()
            if t.kecamatan_code in operators.by_kecamatan and (only is None or t.code in only)
        ),
        key=lambda t: t.code,
    )
    count = max(1, round(rate * len(tps))) if tps else 0
    channels = [c for c, _ in CHANNEL_SHARES]
    weights = [w for _, w in CHANNEL_SHARES]
    sends = []
    for n in range(count):
        place = rng.choice(tps)
        category = rng.choice(CRITICAL if rng.random() < critical_share else OTHERS)
        # A fifth of the reports concern the desa as a whole.
        area = place.desa_code if rng.random() < 0.2 else place.code
        sends.append(
            IncidentSend(
                at=rng.random(),
                operator=operators.sender(place.kecamatan_code),
                area=area,
                category=category,
                text=rng.choice(TEXTS[category]),
                channel=rng.choices(channels, weights)[0],
                key=f"sim-incident-{seed}-{n}",
            )
        )
    return sorted(sends, key=lambda s: s.at)


@dataclass
class IncidentStats:
    """What the intake answered."""

    stored: int = 0
    critical: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


class IncidentSender:
    """Sends planned incidents at their moments of a day of duration_s seconds."""

    def __init__(
        self,
        sends: list[IncidentSend],
        *,
        intake_url: str,
        tokens: dict[str, str],
        phones: dict[str, str],
        secrets: ChannelSecrets,
        duration_s: float,
        attempts: int = 30,
        concurrency: int = 16,
    ) -> None:
        self.sends = sends
        self.intake_url = intake_url
        self.tokens = tokens
        self.phones = phones
        self.secrets = secrets
        self.duration_s = duration_s
        self.attempts = attempts
        self.stats = IncidentStats()
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self) -> IncidentStats:
        """Send every incident (concurrently with the forms); the counts of what was stored."""
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.intake_url, timeout=15) as client:

            async def one(send: IncidentSend) -> None:
                await asyncio.sleep(
                    max(0.0, started + send.at * self.duration_s - time.monotonic())
                )
                await self._deliver(client, send)

            await asyncio.gather(*(one(s) for s in self.sends))
        return self.stats

    async def _deliver(self, client: httpx.AsyncClient, send: IncidentSend) -> None:
        channel = send.channel if send.operator.id in self.phones else Channel.API
        for _ in range(self.attempts):
            try:
                status, retry_after = await self._post(client, send, channel)
            except httpx.HTTPError:
                status, retry_after = 599, None
            if status == 202:
                self.stats.stored += 1
                self.stats.critical += send.critical
                self.stats.by_channel[channel.value] += 1
                return
            if status not in (429, 503, 599):
                break
            await asyncio.sleep(retry_after or 1.0)
        self.stats.failures.append(f"{send.key}: {channel.value} {status}")

    async def _post(
        self, client: httpx.AsyncClient, send: IncidentSend, channel: Channel
    ) -> tuple[int, float | None]:
        if channel is Channel.WHATSAPP:
            return await self._whatsapp(client, send)
        if channel is Channel.SMS:
            return await self._sms(client, send)
        response = await client.post(
            "/v1/incidents",
            json={"area": send.area, "category": send.category.value, "text": send.text},
            headers={
                "Authorization": f"Bearer {self.tokens[send.operator.id]}",
                "Idempotency-Key": send.key,
            },
        )
        return response.status_code, _retry_after(response)

    async def _whatsapp(
        self, client: httpx.AsyncClient, send: IncidentSend
    ) -> tuple[int, float | None]:
        phone = self.phones[send.operator.id]
        message = {
            "from": phone,
            "id": f"wamid.{send.key}",
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": send.message()},
        }
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "sim"}}
        body = orjson.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "sim",
                        "changes": [
                            {"field": "messages", "value": {**value, "messages": [message]}}
                        ],
                    }
                ],
            }
        )
        response = await client.post(
            "/v1/webhooks/whatsapp",
            content=body,
            headers={
                "X-Hub-Signature-256": whatsapp_signature(self.secrets.whatsapp_app_secret, body),
                "Content-Type": "application/json",
            },
        )
        if response.status_code == 200:
            return (202 if response.json().get("published") else 429), None
        return response.status_code, _retry_after(response)

    async def _sms(self, client: httpx.AsyncClient, send: IncidentSend) -> tuple[int, float | None]:
        params = {
            "From": f"+{self.phones[send.operator.id]}",
            "Body": send.message(),
            "MessageSid": f"SM{send.key}",
        }
        url = str(client.base_url.join("/v1/webhooks/sms"))
        signature = sms_signature(self.secrets.sms_auth_token, url, params.items())
        response = await client.post(
            "/v1/webhooks/sms", data=params, headers={"X-Twilio-Signature": signature}
        )
        if response.status_code == 200:
            return (202 if response.headers.get("X-Deskpemilu-Published") == "1" else 429), None
        return response.status_code, _retry_after(response)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = response.headers.get("Retry-After")
        return float(value) if value is not None else None
    except ValueError:
        return None


def expected_incidents(incidents: list[IncidentSend]) -> dict[str, int]:
    """operator id -> incidents reported (the activity report's column)."""
    return dict(sorted(Counter(i.operator.id for i in incidents).items()))


async def send_incidents(
    client: httpx.AsyncClient, tokens: dict[str, str], incidents: list[IncidentSend]
) -> list[str]:
    """POST each report to /v1/incidents at once (no day clock); the failures, if any."""
    failures = []
    for send in incidents:
        for _ in range(50):
            try:
                answer = await client.post(
                    "/v1/incidents",
                    json={"area": send.area, "category": send.category.value, "text": send.text},
                    headers={
                        "Authorization": f"Bearer {tokens[send.operator.id]}",
                        "Idempotency-Key": send.key,
                    },
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code in (429, 503):
                await asyncio.sleep(0.2)
                continue
            if answer.status_code != 202:
                failures.append(f"{send.area}: HTTP {answer.status_code} {answer.text[:200]}")
            break
        else:
            failures.append(f"{send.area}: no 202 after 50 attempts")
    return failures
