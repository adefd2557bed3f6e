"""The console's web app (Flask): sign-in, the camera list and the calibration editor.

Pages are rendered on the server; the editor is a plain JS module (static/calibrate.js), no
build step. Every change (sign-in, sign-out, save) carries the session's CSRF token; the
session is a signed, Secure, HttpOnly, SameSite=Strict cookie; roles come from the user list
on every request, never from the cookie. /metrics, /healthz and /readyz answer like every
other service's.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
import yaml
from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, session, url_for
from prometheus_client import Counter

from services.console.auth import LockoutPolicy, User, hash_password, verify_password
from services.console.background import BackgroundCache
from services.console.incidents import IncidentBoard
from services.console.layout import apply_layout, camera_layout
from services.console.live import LIVE_KEY, live_view
from storesight.ack import ack_url
from storesight.config import Config, ConfigError, ZoneKind, load_config
from storesight.service import ServiceRunner

log = logging.getLogger(__name__)

LOGINS = Counter("storesight_console_logins_total", "Sign-in attempts by result", ["result"])
SAVES = Counter("storesight_console_layout_saves_total", "Layout saves and downloads by result", ["result"])

PUBLIC_ENDPOINTS = {"login", "static", "probe"}
MAX_BODY_BYTES = 1024 * 1024


class ConfigFile:
    """The region config as written (for edits that keep its other content) and as validated."""

    def __init__(self, path: str | Path, writable: bool = False):
        self.path = Path(path)
        self.writable = writable
        self.lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        config = load_config(self.path)  # ConfigError: refuse to serve a bad file
        self.data: dict = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        self.config: Config = config

    def write(self, text: str) -> None:
        """Replace the file atomically (a reader never sees half a file), then reload it."""
        fd, tmp = tempfile.mkstemp(prefix=".console-", suffix=".yaml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.reload()


@dataclass
class ConsoleSettings:
    config: ConfigFile
    users: dict[str, User]
    secret_key: str
    secure_cookies: bool = True
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    runner: ServiceRunner | None = None
    backgrounds: BackgroundCache = field(default_factory=BackgroundCache)
    # Opens the Redis client of the live view on first use (calibration works without Redis).
    redis_factory: Callable[[], object] | None = None
    live_key_prefix: str = "storesight:"
    # Open incidents (fed from the alerts topic) and the alerts service's acknowledgement link.
    incidents: IncidentBoard | None = None
    ack_secret: str = ""
    ack_base_url: str = ""


def create_app(settings: ConsoleSettings) -> Flask:
    if len(settings.secret_key) < 32:
        raise ValueError("CONSOLE_SECRET_KEY must be at least 32 characters")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="storesight_console",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    cfg = settings.config

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def guard():
        g.user = settings.users.get(session.get("user", ""))
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                if request.path.startswith("/api/"):
                    return jsonify(error="missing or stale CSRF token: reload the page"), 400
                return render_page("error.html", 400, title="Form expired",
                                   message="This form has expired. Reload the page and try again.")
        if request.endpoint not in PUBLIC_ENDPOINTS and g.user is None:
            if request.path.startswith("/api/"):
                return jsonify(error="sign in first"), 401
            return redirect(url_for("login", next=request.path))
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    def render_page(template: str, status: int = 200, **context):
        return render_template(template, user=g.get("user"), **context), status

    @app.route("/<any(metrics, healthz, readyz):probe_name>", endpoint="probe")
    def probe(probe_name: str):
        if settings.runner is None:
            return Response("ok", mimetype="text/plain")
        status, ctype, body = settings.runner.dispatch("/" + probe_name, request.query_string.decode())
        return Response(body, status=status, content_type=ctype)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            return render_page("login.html", next=_safe_next(request.args.get("next")))
        name = request.form.get("username", "").strip()[:128]
        password = request.form.get("password", "")
        next_page = _safe_next(request.form.get("next"))
        locked = settings.lockout.locked_for(name)
        if locked:
            LOGINS.labels("locked").inc()
            return render_page("locked.html", 429, minutes=max(1, round(locked / 60)))
        user = settings.users.get(name)
        if user is None:  # a wrong name costs as long as a wrong password: names cannot be probed
            verify_password(password, _dummy_hash())
        if user is None or not verify_password(password, user.password_hash):
            settings.lockout.failed(name)
            LOGINS.labels("failed").inc()
            log.warning("sign-in failed", extra={"user": name})
            locked = settings.lockout.locked_for(name)
            if locked:
                return render_page("locked.html", 429, minutes=max(1, round(locked / 60)))
            return render_page("login.html", 401, error="Wrong user name or password.", next=next_page)
        settings.lockout.succeeded(name)
        LOGINS.labels("ok").inc()
        log.info("signed in", extra={"user": name, "role": user.role})
        session.clear()
        session.permanent = True
        session["user"] = name
        session["csrf"] = secrets.token_urlsafe(32)
        return redirect(next_page)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    def index():
        return render_page("index.html", config=cfg.config)

    def camera_or_404(camera_id: str):
        try:
            return cfg.config.camera(camera_id)
        except KeyError:
            abort(404)

    @app.get("/cameras/<camera_id>")
    def calibrate(camera_id: str):
        store, camera = camera_or_404(camera_id)
        return render_page("calibrate.html", store=store, camera=camera, writable=cfg.writable,
                           layout=camera_layout(cfg.data, camera_id), kinds=[k.value for k in ZoneKind],
                           fixed=fixed_overlays(store, camera))

    @app.get("/cameras/<camera_id>/background.jpg")
    def background(camera_id: str):
        _store, camera = camera_or_404(camera_id)
        try:
            image = settings.backgrounds.jpeg(camera)
        except (OSError, ValueError) as exc:
            log.warning("background unavailable", extra={"camera": camera_id, "reason": str(exc)})
            return Response("the camera's picture cannot be made now", status=503, mimetype="text/plain")
        response = Response(image, mimetype="image/jpeg")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.post("/api/cameras/<camera_id>/layout")
    def save_layout(camera_id: str):
        camera_or_404(camera_id)
        if not g.user.can_edit:
            SAVES.labels("forbidden").inc()
            return jsonify(error="only installers may change the layout"), 403
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="expected a JSON object"), 400
        mode = body.get("mode", "download")
        if mode not in ("save", "download"):
            return jsonify(error="mode is 'save' or 'download'"), 400
        if mode == "save" and not cfg.writable:
            return jsonify(error="this console was started without --writable: download the YAML instead"), 409
        with cfg.lock:
            result = apply_layout(cfg.data, camera_id, body.get("layout"))
            if not result.ok:
                SAVES.labels("invalid").inc()
                return jsonify(ok=False, problems=[{"shape": p.shape, "message": p.message}
                                                   for p in result.problems]), 422
            text = result.yaml_text()
            if mode == "save":
                try:
                    cfg.write(text)
                except (OSError, ConfigError) as exc:
                    SAVES.labels("error").inc()
                    log.error("cannot write config", extra={"path": str(cfg.path), "reason": str(exc)})
                    return jsonify(error="the config file cannot be written"), 500
        SAVES.labels(mode).inc()
        log.info("layout " + ("saved" if mode == "save" else "downloaded"),
                 extra={"user": g.user.name, "camera": camera_id})
        return jsonify(ok=True, saved=mode == "save", yaml=text)

    redis_client: list = []  # the one client, opened on first use

    def live_state(store_id: str):
        if settings.redis_factory is None:
            raise RuntimeError("no Redis configured")
        if not redis_client:
            redis_client.append(settings.redis_factory())
        return redis_client[0].hgetall(LIVE_KEY.format(prefix=settings.live_key_prefix, store=store_id))

    def store_or_404(store_id: str):
        try:
            return cfg.config.store(store_id)
        except KeyError:
            abort(404)

    @app.get("/stores/<store_id>/live")
    def live_page(store_id: str):
        return render_page("live.html", store=store_or_404(store_id))

    @app.get("/api/stores/<store_id>/live")
    def live_api(store_id: str):
        store = store_or_404(store_id)
        try:
            stored = live_state(store_id)
        except Exception as exc:  # noqa: BLE001 - any Redis failure is "unavailable", with its reason logged
            redis_client.clear()
            log.warning("live state unavailable", extra={"store": store_id, "reason": type(exc).__name__})
            return jsonify(error="the live state cannot be read now"), 503
        return jsonify(live_view(store, stored))

    @app.get("/api/stores/<store_id>/incidents")
    def incidents_api(store_id: str):
        store_or_404(store_id)
        if settings.incidents is None:
            return jsonify(error="incidents are not followed by this console"), 503
        return jsonify(incidents=settings.incidents.open(store_id), complete=settings.incidents.caught_up.is_set(),
                       can_ack=bool(settings.ack_secret))

    @app.post("/api/stores/<store_id>/incidents/<incident_id>/ack")
    def acknowledge(store_id: str, incident_id: str):
        store_or_404(store_id)
        if settings.incidents is None or not settings.ack_secret:
            return jsonify(error="acknowledging needs ACK_SECRET and the alerts topic"), 503
        if settings.incidents.find(store_id, incident_id) is None:
            return jsonify(error="no such open incident"), 404
        try:  # the alerts service's own signed link: the same acknowledgement as the SMS's
            answer = requests.get(ack_url(settings.ack_base_url, settings.ack_secret, incident_id), timeout=10)
        except requests.RequestException as exc:
            log.warning("acknowledgement failed", extra={"incident": incident_id, "reason": type(exc).__name__})
            return jsonify(error="the alerts service cannot be reached"), 502
        if answer.status_code != 200:
            log.warning("acknowledgement refused", extra={"incident": incident_id, "status": answer.status_code})
            return jsonify(error=f"the alerts service refused ({answer.status_code})"), 502
        settings.incidents.acknowledged(store_id, incident_id)
        log.info("incident acknowledged", extra={"incident": incident_id, "user": g.user.name})
        return jsonify(ok=True)

    @app.errorhandler(404)
    def not_found(_exc):
        return render_page("error.html", 404, title="Not found", message="There is no such page.")

    @app.errorhandler(413)
    def too_large(_exc):
        return jsonify(error="request too large"), 413

    @app.errorhandler(500)
    def server_error(_exc):
        return render_page("error.html", 500, title="Something went wrong",
                           message="The console could not do that. The error has been logged.")

    return app


def fixed_overlays(store, camera) -> dict:
    """What the editor shows but does not edit: the camera's floor-plan calibration points (image
    point and floor point in metres) and the parts of the store's multi-camera zones it watches."""
    floor = camera.floor
    points = [{"image": list(i), "floor": list(f)} for i, f in zip(floor.image, floor.floor, strict=True)] \
        if floor is not None else []
    parts = [{"id": zone.id, "polygon": [list(p) for p in part.polygon]}
             for zone in store.multi_zones for part in zone.parts if part.camera == camera.id]
    return {"floor_points": points, "store_zones": parts}


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password")


def _safe_next(target: str | None) -> str:
    """Only a local path (never ``//host`` or a URL): no open redirect after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
