"""``make deploy-check`` with the real tools (kubectl kustomize, kubernetes-validate, promtool):
it passes on the repository and fails on planted mistakes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import check

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def _deploy_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploy.check", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=240)


def test_deploy_check_passes_on_the_repository():
    result = _deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deploy-check: OK" in result.stdout
    assert "32 renders" in result.stdout  # 2 overlays x every set of the 4 components


def _k8s_copy(tmp_path: Path) -> Path:
    root = tmp_path / "k8s"
    shutil.copytree(DEPLOY / "k8s", root)
    return root


# (file under deploy/k8s, text, replacement, what the failure must say)
K8S_MISTAKES = [
    pytest.param("base/detect.yaml", "      nodeSelector:", "      nodeSelectr:", "'nodeSelectr' was unexpected",
                 id="misspelt-field"),
    pytest.param("base/aggregate.yaml", "containerPort: 8083", 'containerPort: "8083"', "is not of type 'integer'",
                 id="wrong-type"),
    pytest.param("base/archive.yaml", """            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: storesight-datastores
                  key: database-url""", """            - name: DATABASE_URL
              value: postgresql://storesight:hunter2@db:5432/storesight""", "DATABASE_URL must come from a Secret",
                 id="inlined-secret"),
    pytest.param("base/alerts.yaml", "path: /readyz", "path: /ready", "readinessProbe must GET /readyz",
                 id="wrong-probe"),
    pytest.param("overlays/us-east/config.yaml", "    replicas: 1", "    replicas: 3",
                 "ingest StatefulSet has 1 replicas but config.yaml pipeline.ingest.replicas is 3", id="shard-mismatch"),
    pytest.param("overlays/us-east/config.yaml", "timezone: America/New_York", "timezone: America/Gotham",
                 "not an IANA time zone", id="bad-region-config"),
    pytest.param("components/keda/scaledobject.yaml", "lagThreshold", "lagTreshold", "['lagTreshold']",
                 id="crd-typo"),
    pytest.param("base/kustomization.yaml", "    includeTemplates: true\n", "",
                 "pods lack label app.kubernetes.io/part-of=storesight", id="unscrapable-pods"),
    pytest.param("base/kustomization.yaml", "  - archive.yaml\n", "  - archive.yml\n", "kustomize failed",
                 id="broken-kustomization"),
    pytest.param("components/strimzi/users.yaml", "      - Describe\n      - Write", "      - Describe\n      - Read",
                 "storesight.frames (pictures of shoppers) readable by ['storesight-detect', 'storesight-ingest']",
                 id="ingest-reads-frames"),
    pytest.param("components/strimzi/kafka.yaml", "tls: true", "tls: false",
                 "listener tls must use TLS and authentication", id="plaintext-listener"),
    pytest.param("components/strimzi/users.yaml", "name: storesight-archive\n        patternType: literal",
                 "name: storesight-\n        patternType: prefix", "is more than archive uses", id="prefix-group-acl"),
]


@pytest.mark.parametrize(("path", "text", "replacement", "message"), K8S_MISTAKES)
def test_deploy_check_fails_on_a_planted_kubernetes_mistake(tmp_path, path, text, replacement, message):
    root = _k8s_copy(tmp_path)
    target = root / path
    assert text in target.read_text()
    target.write_text(target.read_text().replace(text, replacement, 1))
    # One overlay, plain and with every component: enough to meet each planted mistake.
    everything = ",".join(sorted(p.name for p in (root / "components").iterdir()))
    result = _deploy_check("--only", "k8s", "--overlay", "us-east", "--components", everything,
                           "--k8s-root", str(root))
    assert result.returncode == 1, result.stdout
    assert message in result.stdout, result.stdout[-3000:]


def test_a_broken_dashboard_query_fails(tmp_path):
    dashboards = tmp_path / "dashboards"
    shutil.copytree(DEPLOY / "grafana" / "dashboards", dashboards)
    ops = dashboards / "operations.json"
    ops.write_text(ops.read_text().replace("sum by (topic) (rate(storesight_dlq", "sum by (topic) rate((storesight_dlq"))
    problems = check.check_dashboards(dashboards)
    assert any("do not parse" in p and "Dead-letter queues" in p for p in problems), problems


def test_a_dashboard_query_on_an_unknown_metric_fails(tmp_path):
    dashboards = tmp_path / "dashboards"
    shutil.copytree(DEPLOY / "grafana" / "dashboards", dashboards)
    live = dashboards / "store-live.json"
    live.write_text(live.read_text().replace("storesight_zone_queue_length", "storesight_zone_queue_len"))
    problems = check.check_dashboards(dashboards)
    assert any("storesight_zone_queue_len'" in p and "Queue length" in p for p in problems), problems


def test_an_alert_rule_that_misses_its_unit_test_fails(tmp_path):
    prometheus = tmp_path / "prometheus"
    shutil.copytree(DEPLOY / "prometheus", prometheus)
    alerts = prometheus / "rules" / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("rate(storesight_detect_lag_seconds_bucket[5m]))) > 5",
                                                 "rate(storesight_detect_lag_seconds_bucket[5m]))) > 50"))
    problems = check.check_prometheus(prometheus)
    assert any("promtool test rules" in p and "StoreSightDetectLatencyHigh" in p for p in problems), problems


def test_a_broken_scrape_config_fails(tmp_path):
    prometheus = tmp_path / "prometheus"
    shutil.copytree(DEPLOY / "prometheus", prometheus)
    config = prometheus / "prometheus.yml"
    config.write_text(config.read_text().replace("action: keep", "action: kep", 1))
    problems = check.check_prometheus(prometheus)
    assert any("promtool check config prometheus.yml" in p for p in problems), problems


def test_grafana_variables_become_plain_promql():
    expr = 'sum by (zone) (rate(storesight_zone_entries_total{store="$store"}[$__rate_interval]))'
    assert check.substitute_variables(expr, "lisbon") == \
        'sum by (zone) (rate(storesight_zone_entries_total{store="lisbon"}[1m]))'


def test_alert_expressions_become_their_bool_signal():
    assert check.as_bool_comparisons('up{job="storesight"} == 0') == 'up{job="storesight"} == bool 0'
    assert check.as_bool_comparisons('sum(rate(x{status!="sent", a=~"b>c"}[5m])) > 0 and y <= 2') == \
        'sum(rate(x{status!="sent", a=~"b>c"}[5m])) > bool 0 and y <= bool 2'
    assert check.as_bool_comparisons("a > bool 1") == "a > bool 1"


def test_rendered_acls_let_only_detect_read_frames():
    """From the rendered KafkaUsers (the strimzi component in each overlay): the frames topic has
    one reader, detect; every other service's user can neither read it nor join detect's group."""
    from storesight.access import SERVICES
    from storesight.topics import DETECTIONS, FRAMES

    for overlay in check.overlays(DEPLOY / "k8s"):
        docs = [d for d in yaml.safe_load_all(check.render(overlay, [DEPLOY / "k8s/components/strimzi"])) if d]
        users = {d["metadata"]["name"] for d in docs if d.get("kind") == "KafkaUser"}
        assert users == {s.user for s in SERVICES}
        assert check.acl_grants(docs, "Read", "topic", FRAMES.name) == {"storesight-detect"}
        assert check.acl_grants(docs, "Read", "group", "storesight-detect") == {"storesight-detect"}
        assert check.acl_grants(docs, "Write", "topic", FRAMES.name) == {"storesight-ingest"}
        assert check.acl_grants(docs, "Read", "topic", DETECTIONS.name) == {"storesight-aggregate"}
        assert check.kafka_access_problems(docs) == []
