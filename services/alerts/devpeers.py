"""Local stand-ins for the alert providers, for tests, the bench and the demo (never production).

- ``TwilioPeer``: emulates Twilio's ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` (Basic
  auth, form body, JSON reply, Twilio-style error bodies), so the real ``twilio`` client is
  exercised end to end. Failures can be programmed (``fail_next(500, 500)``) and the reply to
  an accepted message can be held back (``hold()``) to kill a sender mid-send.
- ``WebhookReceiver``: accepts JSON POSTs and checks the HMAC-SHA256 signature header.
- ``SmtpServer``: a real aiosmtpd server requiring STARTTLS and AUTH, with a throw-away
  self-signed certificate made at start (no key is ever committed).

Run all three: ``python -m services.alerts.devpeers`` (prints addresses, then one JSON line per
message received, contacts masked). Credentials come from the same environment variables the
service reads (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, WEBHOOK_SECRET, SMTP_USER, SMTP_PASSWORD).
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import hmac
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from services.alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER
from services.alerts.message import mask, webhook_signature

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[A-Za-z0-9]+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


class _Http:
    """A threaded HTTP server on loopback; subclasses handle POST."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                arrived = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload, release = peer.handle(self.path, dict(self.headers), body, arrived)
                if release is not None:
                    release.wait(60)
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self.on_message: Callable[[dict], None] | None = None

    def handle(self, path: str, headers: dict, body: bytes, arrived: float):
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                        name=type(self).__name__)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()

    def _wait(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)


class TwilioPeer(_Http):
    def __init__(self, account_sid: str, auth_token: str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict] = []  # accepted messages, in arrival order
        self.requests: list[dict] = []  # every request, accepted or not: {"status", "arrived"}
        self._failures: list[int] = []
        self._hold = False
        self._held: list[threading.Event] = []

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses (e.g. 500, 500), then normally again."""
        with self._lock:
            self._failures.extend(statuses)

    def hold(self) -> None:
        """Accept the next message but hold its reply back until ``release()``."""
        with self._lock:
            self._hold = True

    def release(self) -> None:
        with self._lock:
            for event in self._held:
                event.set()
            self._held.clear()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> bool:
        return self._wait(lambda: len(self.messages) >= count, timeout_s)

    def _authorized(self, headers: dict, sid: str) -> bool:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user == sid == self.account_sid) and hmac.compare_digest(password, self.auth_token)

    def handle(self, path, headers, body, arrived):
        match = MESSAGES_PATH.match(path.split("?")[0])
        if not match:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, None
        sid = match["sid"]
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self._changed:
            status = self._failures.pop(0) if self._failures else None
            if status is None and not self._authorized(headers, sid):
                status = 401
            if status is None and (not E164.match(form.get("To", "")) or not form.get("From")
                                   or not form.get("Body")):
                status = 400
            self.requests.append({"status": status or 201, "arrived": arrived})
            self._changed.notify_all()
            if status is not None:
                code, text = ERRORS.get(status, (20000 + status, "error"))
                return status, {"code": code, "message": text, "status": status,
                                "more_info": f"https://www.twilio.com/docs/errors/{code}"}, None
            message = {
                "sid": "SM" + uuid.uuid4().hex, "account_sid": sid, "to": form["To"], "from": form["From"],
                "body": form["Body"], "status": "queued", "num_segments": "1", "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                "price": None, "error_code": None, "error_message": None,
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/placeholder.json", "arrived": arrived,
            }
            message["uri"] = message["uri"].replace("placeholder", message["sid"])
            self.messages.append(message)
            self._changed.notify_all()
            release = None
            if self._hold:
                self._hold, release = False, threading.Event()
                self._held.append(release)
        if self.on_message:
            self.on_message({"peer": "twilio", "to": mask(message["to"]), "body": message["body"]})
        reply = {k: v for k, v in message.items() if k != "arrived"}
        return 201, reply, release


class WebhookReceiver(_Http):
    """Records every POST with whether its signature checks out (401 when it does not)."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.secret = secret
        self.received: list[dict] = []
        self._failures: list[int] = []

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._failures.extend(statuses)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> bool:
        return self._wait(lambda: len(self.received) >= count, timeout_s)

    def handle(self, path, headers, body, arrived):
        stamp = headers.get(TIMESTAMP_HEADER, "")
        valid = hmac.compare_digest(headers.get(SIGNATURE_HEADER, ""), webhook_signature(self.secret, stamp, body))
        with self._changed:
            if self._failures:
                return self._failures.pop(0), {"error": "programmed failure"}, None
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            self.received.append({"path": path, "valid": valid, "payload": payload, "arrived": arrived})
            self._changed.notify_all()
        if self.on_message and payload:
            self.on_message({"peer": "webhook", "valid_signature": valid, "payload": payload})
        return (204, None, None) if valid else (401, {"error": "bad signature"}, None)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for localhost/127.0.0.1 (made with openssl, valid one day)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class SmtpServer:
    """aiosmtpd requiring STARTTLS, then AUTH (PLAIN/LOGIN) with the given user and password."""

    def __init__(self, user: str, password: str, host: str = "127.0.0.1", port: int | None = None):
        from storesight.broker import free_port

        self.user, self.password = user, password
        self.host, self.port = host, port or free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[dict] = []
        self.logins: list[str] = []
        self._dir = Path(tempfile.mkdtemp(prefix="storesight-smtp-"))
        self.ca_file: Path | None = None
        self._controller = None
        self._cond = threading.Condition()
        self.on_message: Callable[[dict], None] | None = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        cert, key = self_signed_cert(self._dir)
        self.ca_file = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = self

        def authenticate(_server, _session, _envelope, _mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == server.user
                  and hmac.compare_digest(auth_data.password.decode(), server.password))
            if ok:
                server.logins.append(server.user)
            return AuthResult(success=ok)

        class Handler:
            async def handle_DATA(self, _server, session, envelope):  # noqa: N802 - aiosmtpd API
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server._cond:
                    server.messages.append(msg)
                    server.envelopes.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                             "tls": session.ssl is not None})
                    server._cond.notify_all()
                if server.on_message:
                    server.on_message({"peer": "smtp", "to": [mask(a) for a in envelope.rcpt_tos],
                                       "subject": msg["Subject"]})
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname=self.host, port=self.port, tls_context=context,
                                      require_starttls=True, auth_require_tls=True, authenticator=authenticate,
                                      auth_required=True)
        self._controller.start()
        return self

    def wait_for(self, count: int, timeout_s: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.messages) >= count, timeout_s)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Twilio, SMTP and webhook peers for the alerts demo.")
    parser.add_argument("--twilio-port", type=int, default=0)
    parser.add_argument("--webhook-port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    args = parser.parse_args(argv)
    env = os.environ

    def show(event: dict) -> None:
        print(json.dumps(event), flush=True)

    twilio = TwilioPeer(env.get("TWILIO_ACCOUNT_SID", "ACdemo"), env.get("TWILIO_AUTH_TOKEN", "demo-token"),
                        port=args.twilio_port).start()
    webhook = WebhookReceiver(env.get("WEBHOOK_SECRET", "demo-webhook-secret"), port=args.webhook_port).start()
    smtp = SmtpServer(env.get("SMTP_USER", "demo"), env.get("SMTP_PASSWORD", "demo-password"),
                      port=args.smtp_port or None).start()
    for peer in (twilio, webhook, smtp):
        peer.on_message = show
    show({"twilio_base_url": twilio.base_url, "webhook_url": webhook.base_url + "/hook",
          "smtp": f"{smtp.host}:{smtp.port}", "smtp_ca_file": str(smtp.ca_file)})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for peer in (twilio, webhook, smtp):
        peer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
