"""The whole pipeline on one machine: embedded broker, topics, Redis, local SMS/e-mail peers and
each service as its own process (``python -m services.<name> --config FILE``, as its container
runs it). Used by ``storesight demo``, the end-to-end tests and the pipeline benchmark.

The run's config is the given one with the addresses of this run filled in (broker, Redis,
peers, HTTP ports), written to the run's work folder. Credentials for the local peers are made
up per run and passed in the environment only, as production secrets are.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from storesight.broker import EmbeddedBroker, free_port
from storesight.config import Config, load_config
from storesight.topics import ensure_topics
from tools.localservers import ensure_redis, stop_redis

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
# Consumers start before producers so nothing is missed; they stop in the reverse order.
PIPELINE = ("alerts", "aggregate", "detect", "ingest")


class ServiceFailed(RuntimeError):
    """A service process exited or did not become ready; the message carries its log tail."""


class ServiceProcess:
    """One service as its container runs it, with its own HTTP port and log file."""

    def __init__(self, name: str, config: Path, env: dict[str, str], log_dir: Path, port: int | None = None,
                 args: tuple[str, ...] = ()):
        self.name = name
        self.port = port or free_port()
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}", "--config", str(config), *args],
            cwd=REPO, env={**env, "STORESIGHT_HTTP_PORT": str(self.port)},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceFailed(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        raise ServiceFailed(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as reply:
            return reply.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels`` (0 when there is none)."""
        return metric_value(self.metrics(), name, **labels)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (finish the batch, commit, close), SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("service did not stop in time, killing it", extra={"service": self.name})
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` in Prometheus text whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


@dataclass
class Peers:
    """Local stand-ins for Twilio and SMTP so alerts are visible without the internet."""

    env: dict[str, str]
    twilio: object
    smtp: object

    @classmethod
    def start(cls) -> Peers:
        from services.alerts.devpeers import SmtpServer, TwilioPeer

        env = {
            "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "TWILIO_FROM": "+15550000001",
            "SMTP_USER": "storesight",
            "SMTP_PASSWORD": secrets.token_urlsafe(12),
            "WEBHOOK_SECRET": secrets.token_urlsafe(16),
            "ACK_SECRET": secrets.token_urlsafe(16),
        }
        twilio = TwilioPeer(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"]).start()
        smtp = SmtpServer(env["SMTP_USER"], env["SMTP_PASSWORD"]).start()
        return cls(env, twilio, smtp)

    def stop(self) -> None:
        self.twilio.stop()
        self.smtp.stop()


@dataclass
class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use it as a context manager)."""

    config_path: Path
    workdir: Path
    services: tuple[str, ...] = PIPELINE
    broker_port: int | None = None
    ready_timeout_s: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)
    # A Redis of this run's own on a free port, shut down by stop(): tests and benchmarks that
    # scan or time every key must not share one with other runs (keys are per store, not per run).
    private_redis: bool = False
    # Extra command-line options per service, e.g. {"aggregate": ("--group", "g1")}.
    service_args: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    peers: Peers | None = None
    redis_url: str = ""
    redis_started: bool = False
    config: Config | None = None
    run_config_path: Path | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # the services' environment (for restart)

    def start(self) -> LocalStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        base = load_config(self.config_path)
        try:
            self.broker = EmbeddedBroker(port=self.broker_port or free_port()).start()
            ensure_topics(self.broker.bootstrap)
            redis_url = (f"redis://127.0.0.1:{free_port()}/0" if self.private_redis
                         else os.environ.get("REDIS_URL", base.pipeline.redis_url))
            self.redis_url, self.redis_started = ensure_redis(redis_url)
            self.peers = Peers.start()
            ports = {name: free_port() for name in self.services}
            self.config, self.run_config_path = self._write_run_config(base, ports.get("alerts"))
            self.env = env = {**os.environ, **self.peers.env, **self.extra_env,
                              "KAFKA_BOOTSTRAP": self.broker.bootstrap, "REDIS_URL": self.redis_url,
                              "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
            for name in self.services:
                self.processes[name] = ServiceProcess(name, self.run_config_path, env, self.workdir / "logs",
                                                      port=ports[name], args=self.service_args.get(name, ()))
            for name in self.services:
                self.processes[name].wait_ready(self.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_run_config(self, base: Config, alerts_port: int | None) -> tuple[Config, Path]:
        data = base.model_dump(mode="json", exclude_none=True)
        pipeline = data["pipeline"]
        pipeline["kafka"]["bootstrap"] = self.broker.bootstrap
        pipeline["redis_url"] = self.redis_url
        alerts = pipeline["alerts"]
        alerts["twilio_base_url"] = self.peers.twilio.base_url
        alerts["smtp_host"], alerts["smtp_port"] = self.peers.smtp.host, self.peers.smtp.port
        alerts["smtp_starttls"] = True
        alerts["smtp_ca_file"] = str(self.peers.smtp.ca_file)
        if alerts_port:
            alerts["ack_base_url"] = f"http://127.0.0.1:{alerts_port}"
        path = self.workdir / "run-config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return load_config(path), path

    def kill_and_restart(self, name: str) -> ServiceProcess:
        """SIGKILL a service (no batch finished, nothing committed or closed) and start a new process
        of it with the same config and environment (a fresh HTTP port); returns it once ready."""
        old = self.processes[name]
        old.proc.kill()
        old.proc.wait(10)
        old.stop()  # closes its log
        new = ServiceProcess(name, self.run_config_path, self.env, self.workdir / "logs",
                             args=self.service_args.get(name, ()))
        self.processes[name] = new
        new.wait_ready(self.ready_timeout_s)
        return new

    def stop_services(self) -> dict[str, int | None]:
        """Stop producers first so consumers can finish what they were given; return exit codes.

        The broker, Redis and peers stay up, so what the run left there can still be read."""
        return {name: self.processes[name].stop() for name in reversed(list(self.processes))}

    def stop(self) -> dict[str, int | None]:
        """Stop the services (producers first), then the peers, the broker and a private Redis."""
        codes = self.stop_services()
        if self.peers is not None:
            self.peers.stop()
            self.peers = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.private_redis and self.redis_started:
            stop_redis(self.redis_url)
            self.redis_started = False
        return codes

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
