"""The signed acknowledgement of an incident: the tag in the SMS/e-mail links the alerts
service serves at ``/ack/<incident>?sig=...``, and that the console uses to acknowledge from
its page. HMAC-SHA256 with ``ACK_SECRET`` (from the environment, never a file).

>>> sig = ack_signature("k", "inc-1")
>>> len(sig), ack_valid("k", "inc-1", sig), ack_valid("k", "inc-2", sig)
(16, True, False)
>>> ack_url("http://alerts:8084/", "k", "inc-1") == f"http://alerts:8084/ack/inc-1?sig={sig}"
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def ack_signature(secret: str, incident_id: str) -> str:
    """Short HMAC-SHA256 tag (16 url-safe characters) for an incident's ack link."""
    digest = hmac.new(secret.encode(), f"ack:{incident_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def ack_url(base_url: str, secret: str, incident_id: str) -> str:
    return f"{base_url.rstrip('/')}/ack/{incident_id}?sig={ack_signature(secret, incident_id)}"


def ack_valid(secret: str, incident_id: str, sig: str) -> bool:
    return hmac.compare_digest(ack_signature(secret, incident_id), sig)
