"""Prometheus really scrapes the services, and every dashboard query and rule expression has data.

What runs, all real and on loopback:
- the embedded broker (a fresh one: the registry's topics, created by ``ensure_topics``),
  Redis and PostgreSQL from tests/support/servers.py, an aiosmtpd SMTP server;
- alerts, aggregate, detect and ingest, each started as
  ``python -m services.<name> --config <tmp>/region.yaml`` with STORESIGHT_HTTP_PORT set to a
  free port and KAFKA_BOOTSTRAP, REDIS_URL, DATABASE_URL, DETECT_BACKEND=onnxruntime,
  DETECT_DEVICE=cpu in the environment; ingest replays the labelled Intel clip in real time;
- Debian's Prometheus, scraping the four services every second and loading
  deploy/prometheus/rules/*.yml.

The store's rule mails the manager (SMTP, succeeds) and calls a webhook on a closed port
(fails), so both ``status`` values of the delivery counter and the alerts DLQ get series.

For counters of rare events (drops, reconnects, late records, line crossings, DLQ) to have a
series before the first event, the services create their label sets at start-up from what
they know (cameras, stores, lines, drop reasons, channel x status "sent"/"failed"), at 0:
"nothing happened yet" is then 0 on the dashboards, not "no data".

Sentiment metrics (``deploy.metrics.OPT_IN``) and the panels built on them are left out: they
exist only where a store opted in to attributes, and the Intel clip's ceiling camera sees no
frontal face (docs/privacy.md); tests/integration/test_aggregate_attributes.py checks them.

A missing service package fails the test (it does not skip): deployment is only right when
every service it deploys exports what the dashboards read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from deploy.check import as_bool_comparisons, dashboard_queries, rule_expressions, substitute_variables
from deploy.metrics import HISTOGRAM, METRICS, OPT_IN, SERVICE_PREFIXES, referenced_names
from storesight.broker import free_port
from storesight.topics import ensure_topics
from tests.support.servers import wait_port
from tools.stack import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Started in this order: consumers before producers, so nothing is missed.
SCRAPED = ("alerts", "aggregate", "detect", "ingest")
DATA_TIMEOUT_S = 180


def _region_config(path: Path, clip: Path, store: str, camera: str, bootstrap: str, redis_url: str,
                   database_url: str, smtp_port: int, closed_port: int) -> Path:
    config = {
        "region": "obs-test",
        "pipeline": {
            "kafka": {"bootstrap": bootstrap},
            "redis_url": redis_url,
            "database_url": database_url,
            "aggregate": {"window_s": 5, "stale_after_s": 15},
            "alerts": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False,
                       "max_attempts": 2, "retry_initial_s": 0.2, "ack_base_url": "http://127.0.0.1:1"},
        },
        "stores": [{
            "id": store,
            "timezone": "UTC",
            "cameras": [{
                "id": camera,
                "source": str(clip),
                "fps": 5,
                "realtime": True,
                "zones": [
                    {"id": "floor", "kind": "area", "capacity": 10,
                     "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]},
                    # People walk in at the lower left and on to the table: a queue served by a
                    # till, so throughput and the wait estimate have data.
                    {"id": "queue", "kind": "queue", "serves": "till",
                     "polygon": [[0.0, 0.5], [0.45, 0.5], [0.45, 1.0], [0.0, 1.0]]},
                    {"id": "till", "kind": "checkout", "polygon": [[0.45, 0.5], [0.8, 0.5], [0.8, 1.0], [0.45, 1.0]]},
                    # Staff exclusion on, so its gauges exist (the clip has no staff: they stay 0).
                    {"id": "stockroom", "kind": "area", "staff_only": True,
                     "polygon": [[0.9, 0.0], [1.0, 0.0], [1.0, 0.1], [0.9, 0.1]]},
                ],
                "lines": [{"id": "middle", "a": [0.5, 0.0], "b": [0.5, 1.0], "in_point": [0.25, 0.5]}],
            }],
            # The line as the store's door: the store occupancy and footfall panels get data.
            "entrances": [{"camera": camera, "line": "middle"}],
            "staff_share": 0.5,
            "rules": [{
                "id": "someone-there", "metric": "occupancy", "zone": "floor", "op": ">=", "threshold": 1,
                "clear_threshold": 0, "for_s": 0, "cooldown_s": 0, "only_business_hours": False,
                "channels": ["email", "webhook"],
                "recipients": [{"name": "Manager", "email": "manager@obs.example",
                                "webhook_url": f"http://127.0.0.1:{closed_port}/hook"}],
            }],
        }],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class PrometheusServer:
    """Debian's Prometheus on loopback, scraping the given services every second."""

    def __init__(self, workdir: Path, targets: dict[str, int]):
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("Debian's prometheus is not installed (make setup installs it)")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))],
            "scrape_configs": [{
                "job_name": "storesight",
                "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": {"service": name}}
                                   for name, port in targets.items()],
            }],
        }
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.log = workdir / "prometheus.log"
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        if not (wait_port("127.0.0.1", self.port, 30) and self._wait_ready(30)):
            self.stop()
            pytest.fail(f"prometheus did not start:\n{self.log.read_text()}")

    def _wait_ready(self, timeout_s: float) -> bool:
        """The port opens before the TSDB is loaded; until then every query answers 503."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        return False

    def query(self, expr: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def series(self, match: str, since: float) -> list[dict]:
        """Label sets of the series matching ``match`` that had samples since ``since`` (epoch s)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/series?" + urllib.parse.urlencode(
            {"match[]": match, "start": f"{since:.3f}", "end": f"{time.time():.3f}"})
        with urllib.request.urlopen(url, timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture()
def smtp_port():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


def _expected_series(service: str) -> set[str]:
    names = {name for name in METRICS if name.startswith(SERVICE_PREFIXES[service]) and name not in OPT_IN}
    return {f"{n}_bucket" if METRICS[n] == HISTOGRAM else n for n in names}


def test_prometheus_scrapes_the_services_and_every_query_has_data(
        tmp_path, fresh_broker, redis_url, postgres_url, intel_clip, smtp_port):
    suffix = uuid.uuid4().hex[:6]
    store, camera = f"obs-{suffix}", f"obs-cam-{suffix}"
    ensure_topics(fresh_broker.bootstrap)
    config = _region_config(tmp_path / "region.yaml", intel_clip, store, camera, fresh_broker.bootstrap,
                            redis_url, postgres_url, smtp_port, free_port())
    env = {**os.environ, "KAFKA_BOOTSTRAP": fresh_broker.bootstrap, "REDIS_URL": redis_url,
           "DATABASE_URL": postgres_url, "DETECT_BACKEND": "onnxruntime", "DETECT_DEVICE": "cpu",
           "YOLO_OFFLINE": "1", "LOG_LEVEL": "INFO",
           # Made-up secrets for this run, in the environment as in production.
           "ACK_SECRET": uuid.uuid4().hex, "WEBHOOK_SECRET": uuid.uuid4().hex}
    services: list[ServiceProcess] = []
    prometheus = None
    try:
        # This run's own consumer groups and Redis keys: state left by other runs stays theirs.
        own = {"aggregate": ("--group", f"obs-{suffix}", "--redis-prefix", f"storesight:test-{suffix}:"),
               "alerts": ("--group", f"obs-alerts-{suffix}", "--key-prefix", f"storesight:test-{suffix}:alerts:")}
        for name in SCRAPED:
            if name == "ingest":
                # The replay starts when ingest does (services start one after another): detect
                # drops frames older than max_frame_age_s, aggregate marks lagging cameras stale.
                data = yaml.safe_load(config.read_text())
                data["stores"][0]["cameras"][0]["start_time"] = dt.datetime.now(dt.UTC).isoformat()
                config = tmp_path / "ingest.yaml"
                config.write_text(yaml.safe_dump(data, sort_keys=False))
            service = ServiceProcess(name, config, env, tmp_path, args=own.get(name, ()))
            services.append(service)
            service.wait_ready(90)
        started = time.time()
        prometheus = PrometheusServer(tmp_path, {s.name: s.port for s in services})

        # Each expression must return at least one series at some point while the clip plays.
        pending: dict[str, str] = {}
        for where, expr in dashboard_queries(DEPLOY / "grafana" / "dashboards"):
            if not referenced_names(expr) & OPT_IN:
                pending[f"dashboard {where}"] = substitute_variables(expr, store)
        for name, expr in rule_expressions(DEPLOY / "prometheus"):
            pending[f"rule {name}"] = as_bool_comparisons(expr)
        total = len(pending)
        deadline = time.monotonic() + DATA_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for service in services:
                assert service.proc.poll() is None, f"{service.name} died:\n{service.log_tail()}"
            for where, expr in list(pending.items()):
                if prometheus.query(expr):
                    del pending[where]
            time.sleep(2)

        up = {r["metric"]["service"]: r["value"][1] for r in prometheus.query('up{job="storesight"}')}
        assert up == {name: "1" for name in SCRAPED}, up
        # Every series seen during the run, not only those alive now: zone gauges are removed on
        # purpose once the replay ends (unknown is no sample, never 0).
        present: dict[str, set[str]] = {}
        for labels in prometheus.series('{__name__=~"storesight_.+"}', since=started):
            present.setdefault(labels["service"], set()).add(labels["__name__"])
        missing_metrics = {name: sorted(_expected_series(name) - present.get(name, set())) for name in SCRAPED}
        missing_metrics = {k: v for k, v in missing_metrics.items() if v}
        assert not missing_metrics, f"agreed metrics not exported: {missing_metrics}"
        assert not pending, (f"{len(pending)} of {total} expressions never returned a series:\n"
                             + "\n".join(f"  {where}: {expr}" for where, expr in pending.items()))
    finally:
        if prometheus is not None:
            prometheus.stop()
        for service in reversed(services):
            service.stop()
