"""The three ways out: SMS through the real Twilio client, e-mail over SMTP, signed webhooks.

Each sender sends one message and returns the provider's id, or raises DeliveryError saying
whether the failure is transient (retry) or a rejection (no retry, DLQ). Secrets come from
the environment only and are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from services.alerts.message import Notice, scrub, webhook_signature
from services.alerts.policy import http_retryable, smtp_retryable
from storesight.config import AlertSettings

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
SIGNATURE_HEADER = "X-StoreSight-Signature"
TIMESTAMP_HEADER = "X-StoreSight-Timestamp"

# The twilio client logs full request bodies (phone numbers) at INFO.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class DeliveryError(Exception):
    def __init__(self, reason: str, retryable: bool, status: int | None = None):
        reason = scrub(reason)  # provider errors may quote the number or address
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Secrets:
    """Credentials, read from the environment (never from the config file)."""

    twilio_sid: str | None
    twilio_token: str | None
    twilio_from: str | None
    smtp_user: str | None
    smtp_password: str | None
    webhook_secret: str | None
    ack_secret: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        env = os.environ if env is None else env
        get = lambda name: env.get(name) or None  # noqa: E731
        return cls(get("TWILIO_ACCOUNT_SID"), get("TWILIO_AUTH_TOKEN"), get("TWILIO_FROM"),
                   get("SMTP_USER"), get("SMTP_PASSWORD"), get("WEBHOOK_SECRET"), get("ACK_SECRET"))

    def missing_for(self, channel: str) -> list[str]:
        need = {"sms": {"TWILIO_ACCOUNT_SID": self.twilio_sid, "TWILIO_AUTH_TOKEN": self.twilio_token,
                        "TWILIO_FROM": self.twilio_from},
                "email": {}, "webhook": {"WEBHOOK_SECRET": self.webhook_secret}}[channel]
        return [name for name, value in need.items() if not value]


class RebasedTwilioHttpClient(TwilioHttpClient):
    """The stock Twilio HTTP client with https://api.twilio.com replaced by another base URL.

    twilio 9.x has no base-URL option; this is how it talks to a local emulator (tests, demo)
    or a corporate proxy while everything else in the client stays real.
    """

    def __init__(self, base_url: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


class SmsSender:
    channel = "sms"

    def __init__(self, settings: AlertSettings, secrets: Secrets):
        http = RebasedTwilioHttpClient(settings.twilio_base_url, settings.request_timeout_s) \
            if settings.twilio_base_url.rstrip("/") != TWILIO_API else TwilioHttpClient(
                timeout=settings.request_timeout_s)
        self._client = Client(secrets.twilio_sid, secrets.twilio_token, http_client=http)
        self._from = secrets.twilio_from

    def send(self, to: str, notice: Notice) -> str:
        try:
            message = self._client.messages.create(to=to, from_=self._from, body=notice.sms())
        except TwilioRestException as exc:
            raise DeliveryError(f"twilio {exc.status}: {exc.code or ''} {exc.msg}".strip()[:300],
                                http_retryable(exc.status), exc.status) from None
        except requests.RequestException as exc:
            raise DeliveryError(f"twilio unreachable: {type(exc).__name__}", True) from None
        return message.sid


class EmailSender:
    channel = "email"

    def __init__(self, settings: AlertSettings, secrets: Secrets):
        self._settings = settings
        self._user, self._password = secrets.smtp_user, secrets.smtp_password

    def send(self, to: str, notice: Notice) -> str:
        s = self._settings
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = s.email_from, to, notice.subject()
        msg["Message-ID"] = make_msgid(domain=s.email_from.partition("@")[2] or "storesight")
        msg.set_content(notice.sms())
        msg.add_alternative(notice.email_html(), subtype="html")
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.request_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=s.smtp_ca_file))
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            raise DeliveryError(f"smtp {code}: recipient refused", smtp_retryable(code), code) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp {exc.smtp_code}: {exc.smtp_error[:200]!r}",
                                smtp_retryable(exc.smtp_code), exc.smtp_code) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp unreachable: {type(exc).__name__}", True) from None
        return msg["Message-ID"]


class WebhookSender:
    channel = "webhook"

    def __init__(self, settings: AlertSettings, secrets: Secrets):
        self._timeout = settings.request_timeout_s
        self._secret = secrets.webhook_secret or ""
        self._session = requests.Session()

    def send(self, to: str, notice: Notice) -> str:
        body = json.dumps(notice.payload(), separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
                   SIGNATURE_HEADER: webhook_signature(self._secret, stamp, body)}
        try:
            reply = self._session.post(to, data=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", True) from None
        if reply.status_code >= 300:
            raise DeliveryError(f"webhook {reply.status_code}", http_retryable(reply.status_code),
                                reply.status_code)
        return reply.headers.get("X-Request-Id") or f"http-{reply.status_code}"


def build_senders(settings: AlertSettings, secrets: Secrets, channels: set[str]) -> dict:
    """Senders for the channels the rules use; a channel without its secrets fails fast."""
    missing = sorted({name for c in channels for name in secrets.missing_for(c)})
    if missing:
        raise RuntimeError("alert channels need these environment variables: " + ", ".join(missing))
    kinds = {"sms": SmsSender, "email": EmailSender, "webhook": WebhookSender}
    return {c: kinds[c](settings, secrets) for c in channels}
