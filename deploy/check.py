"""``make deploy-check``: every deployment asset checked offline, with real tools.

- Kubernetes: ``kubectl kustomize`` of every overlay with every combination of components,
  each rendered object validated strictly against the Kubernetes 1.33 schemas
  (kubernetes-validate; KEDA/Strimzi kinds against deploy/crd_schemas.py), plus the rules
  the schemas cannot express: pinned images, probes on /healthz and /readyz, requests and
  limits, secrets only by reference, a PodDisruptionBudget and a NetworkPolicy per service,
  referenced ConfigMaps present, the region config valid and ingest's shard count equal to
  the StatefulSet's replicas. With the strimzi component: TLS and authentication on every
  listener, a KafkaUser per service with exactly its ACLs (only detect reads frames), each
  workload using its own user's Secret.
- Prometheus: ``promtool check config``, ``check rules``, ``test rules``.
- Grafana: every dashboard decodes, every query parses (``promtool check rules`` on a
  temporary rules file holding the queries) and uses only agreed metric names.
- Generated files (dashboards, Strimzi topics) equal what their generators give.

Exit status 1 and a list of problems when anything is wrong.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
K8S_VERSION = "1.33.0"
SERVICES = ("ingest", "detect", "aggregate", "alerts", "archive", "console")
# Environment variables whose values are secrets: they may only come from a Secret.
SECRET_ENV = re.compile(r"(PASSWORD|TOKEN|SECRET|_KEY$|_SID$|DATABASE_URL|REDIS_URL)")
# Grafana variables in dashboard queries -> values that make a plain PromQL expression.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def tool(name: str) -> str:
    """A tool from the venv that runs this (kubectl) or from PATH (promtool)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"deploy-check needs {name!r}: run make setup")
    return found


def run(cmd: list[str], cwd: Path | None = None) -> tuple[int, str]:
    env = dict(os.environ, KUBECONFIG="/nonexistent")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


# ---------------------------------------------------------------- Kubernetes


def overlays(k8s_root: Path) -> list[Path]:
    return sorted(p for p in (k8s_root / "overlays").iterdir() if (p / "kustomization.yaml").exists())


def components(k8s_root: Path) -> list[Path]:
    return sorted(p for p in (k8s_root / "components").iterdir() if (p / "kustomization.yaml").exists())


def component_sets(k8s_root: Path) -> list[tuple[Path, ...]]:
    found = components(k8s_root)
    return [combo for n in range(len(found) + 1) for combo in itertools.combinations(found, n)]


def render(overlay: Path, extra_components: Iterable[Path] = ()) -> str:
    """``kubectl kustomize`` the overlay as if its kustomization listed ``extra_components`` too.

    The overlay is copied to a temporary directory whose kustomization points back at the
    same base and components, so the components run exactly where a region would list them.
    """
    extra = list(extra_components)
    if not extra:
        code, out = run([tool("kubectl"), "kustomize", str(overlay)])
        if code:
            raise RenderError(out)
        return out
    with tempfile.TemporaryDirectory(prefix="storesight-kustomize-") as tmp:
        work = Path(tmp) / overlay.name
        shutil.copytree(overlay, work)
        kustomization = yaml.safe_load((work / "kustomization.yaml").read_text())

        def rebase(entry: str) -> str:
            target = (overlay / entry).resolve()
            return os.path.relpath(target, work) if target.is_dir() and not target.is_relative_to(overlay) else entry

        kustomization["resources"] = [rebase(e) for e in kustomization.get("resources", [])]
        kustomization["components"] = ([rebase(e) for e in kustomization.get("components", [])]
                                       + [os.path.relpath(c.resolve(), work) for c in extra])
        (work / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        code, out = run([tool("kubectl"), "kustomize", str(work)])
        if code:
            raise RenderError(out)
        return out


class RenderError(Exception):
    pass


def _name(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def validate_schema(doc: dict) -> str | None:
    """Strict schema validation: core kinds with kubernetes-validate, CRDs with our schemas."""
    import jsonschema
    import kubernetes_validate

    from deploy.crd_schemas import KAFKA_TRIGGER_FIELDS, SCHEMAS

    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in SCHEMAS:
        try:
            jsonschema.validate(doc, SCHEMAS[key])
        except jsonschema.ValidationError as exc:
            return f"{'.'.join(map(str, exc.absolute_path)) or '(top)'}: {exc.message}"
        if doc["kind"] == "ScaledObject":
            for trigger in doc["spec"]["triggers"]:
                unknown = set(trigger["metadata"]) - KAFKA_TRIGGER_FIELDS if trigger["type"] == "kafka" else set()
                if unknown:
                    return f"spec.triggers: unknown kafka trigger fields {sorted(unknown)}"
        return None
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return exc.message
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(map(str, exc.absolute_path)) or '(top)'}: {exc.message}"
    return None


def _pod_spec(doc: dict) -> dict | None:
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
        return doc.get("spec", {}).get("template", {}).get("spec", {})
    return None


def _service_of(doc: dict) -> str | None:
    labels = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    component = labels.get("app.kubernetes.io/component")
    return component if component in SERVICES else None


def policy_problems(docs: list[dict]) -> list[str]:
    """What the schemas cannot say but a StoreSight deployment must hold."""
    problems: list[str] = []
    config_maps = {d["metadata"]["name"] for d in docs if d.get("kind") == "ConfigMap"}
    for doc in docs:
        if doc.get("kind") == "Secret":
            problems.append(f"{_name(doc)}: Secrets are created out of band, never rendered from the repo")
    services_seen = set()
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        where = _name(doc)
        service = _service_of(doc)
        if service:
            services_seen.add(service)
        for volume in spec.get("volumes", []):
            ref = volume.get("configMap", {}).get("name")
            if ref and ref not in config_maps:
                problems.append(f"{where}: volume {volume['name']} uses ConfigMap {ref}, which is not rendered")
        for container in spec.get("containers", []):
            cname = f"{where} container {container['name']}"
            image = container.get("image", "")
            if "@sha256:" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
                problems.append(f"{cname}: image {image!r} is not pinned to a tag or digest")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    problems.append(f"{cname}: needs cpu and memory {part}")
            for ref in container.get("envFrom", []):
                name = ref.get("configMapRef", {}).get("name")
                if name and name not in config_maps:
                    problems.append(f"{cname}: envFrom ConfigMap {name} is not rendered")
            for env in container.get("env", []):
                if SECRET_ENV.search(env["name"]) and "secretKeyRef" not in env.get("valueFrom", {}):
                    problems.append(f"{cname}: {env['name']} must come from a Secret (secretKeyRef)")
            if service:
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    got = container.get(probe, {}).get("httpGet", {}).get("path")
                    if got != path:
                        problems.append(f"{cname}: {probe} must GET {path} (has {got!r})")
                if container.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{cname}: must set allowPrivilegeEscalation: false")
        if service and not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{where}: pods must set runAsNonRoot")
        if service:
            problems += _scrape_problems(where, doc["spec"]["template"]["metadata"], spec)
    missing = set(SERVICES) - services_seen
    if missing:
        problems.append(f"services missing from the render: {sorted(missing)}")
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        covered = {d["spec"].get("podSelector" if kind == "NetworkPolicy" else "selector", {})
                   .get("matchLabels", {}).get("app.kubernetes.io/name") for d in docs if d.get("kind") == kind}
        for service in sorted(services_seen):
            if f"storesight-{service}" not in covered:
                problems.append(f"storesight-{service}: no {kind} selects it")
    return problems


def acl_grants(docs: list[dict], operation: str, resource_type: str, name: str) -> set[str]:
    """Names of the rendered KafkaUsers whose ACLs allow ``operation`` on the resource ``name``
    (literal, prefix and ``All`` matches count, so a wildcard cannot hide a grant)."""
    users = set()
    for doc in docs:
        if doc.get("kind") != "KafkaUser":
            continue
        for acl in doc["spec"].get("authorization", {}).get("acls", []):
            resource = acl.get("resource", {})
            pattern = resource.get("name", "")
            matches = (pattern == "*" or pattern == name if resource.get("patternType", "literal") == "literal"
                       else name.startswith(pattern))
            if (resource.get("type") == resource_type and matches and acl.get("type", "allow") == "allow"
                    and {operation, "All"} & set(acl.get("operations", [acl.get("operation")]))):
                users.add(doc["metadata"]["name"])
    return users


def kafka_access_problems(docs: list[dict]) -> list[str]:
    """With an in-cluster Kafka: TLS + authentication on every listener, a KafkaUser per service
    whose ACLs are exactly storesight/access.py's, and each workload using its own user's Secret."""
    from storesight.access import SERVICES
    from storesight.topics import FRAMES

    kafkas = [d for d in docs if d.get("kind") == "Kafka"]
    if not kafkas:
        return []
    problems = []
    for kafka in kafkas:
        for listener in kafka["spec"]["kafka"]["listeners"]:
            if not listener.get("tls") or not listener.get("authentication"):
                problems.append(f"{_name(kafka)}: listener {listener['name']} must use TLS and authentication")
        if kafka["spec"]["kafka"].get("authorization", {}).get("type") != "simple":
            problems.append(f"{_name(kafka)}: needs authorization type simple (the KafkaUsers' ACLs)")
    readers = acl_grants(docs, "Read", "topic", FRAMES.name)
    if readers != {"storesight-detect"}:
        problems.append(f"topic {FRAMES.name} (pictures of shoppers) readable by {sorted(readers)}: only detect may")
    users = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "KafkaUser"}
    workloads = {_service_of(d): d for d in docs if _pod_spec(d) is not None and _service_of(d)}
    for service in SERVICES:
        if service.user not in users:
            problems.append(f"no KafkaUser {service.user} for {service.name}")
            continue
        allowed = {("topic", t.name, op) for t in service.reads for op in ("Read", "Describe")}
        allowed |= {("topic", t.name, op) for t in service.writes_with_dlqs() for op in ("Write", "Describe")}
        allowed |= {("group", service.group, "Read")} if service.group else set()
        for acl in users[service.user]["spec"].get("authorization", {}).get("acls", []):
            resource = acl.get("resource", {})
            for operation in acl.get("operations", [acl.get("operation")]):
                grant = (resource.get("type"), resource.get("name"), operation)
                if grant not in allowed or resource.get("patternType", "literal") != "literal":
                    problems.append(f"KafkaUser {service.user}: ACL {operation} on {resource.get('type')} "
                                    f"{resource.get('name')!r} is more than {service.name} uses")
        for operation, topics in (("Read", service.reads), ("Write", service.writes_with_dlqs())):
            for topic in topics:
                if service.user not in acl_grants(docs, operation, "topic", topic.name):
                    problems.append(f"KafkaUser {service.user} cannot {operation} {topic.name}")
        workload = workloads.get(service.name)
        env = {e["name"]: e for c in (_pod_spec(workload) or {}).get("containers", [])[:1]
               for e in c.get("env", [])} if workload else {}
        secret = env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
        if workload and (secret != service.user or env.get("KAFKA_SASL_USERNAME", {}).get("value") != service.user):
            problems.append(f"{_name(workload)}: KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD must be KafkaUser "
                            f"{service.user}'s (has user {env.get('KAFKA_SASL_USERNAME', {}).get('value')!r}, "
                            f"Secret {secret!r})")
    return problems


def _scrape_problems(where: str, pod_metadata: dict, spec: dict) -> list[str]:
    """deploy/prometheus/prometheus.yml finds pods by these labels and annotations."""
    labels, annotations = pod_metadata.get("labels", {}), pod_metadata.get("annotations", {})
    problems = []
    if labels.get("app.kubernetes.io/part-of") != "storesight":
        problems.append(f"{where}: pods lack label app.kubernetes.io/part-of=storesight (Prometheus keeps only those)")
    ports = {p["containerPort"] for c in spec.get("containers", []) for p in c.get("ports", [])}
    if annotations.get("prometheus.io/scrape") != "true" or int(annotations.get("prometheus.io/port", 0)) not in ports:
        problems.append(f"{where}: pods need prometheus.io/scrape=true and prometheus.io/port = the metrics port")
    return problems


def config_problems(overlay: Path, docs: list[dict]) -> list[str]:
    """The region config passes ``storesight config check``, and ingest's shards match its pods."""
    from storesight.config import ConfigError, load_config

    try:
        config = load_config(overlay / "config.yaml")
    except ConfigError as exc:
        return [f"{overlay.name}/config.yaml: {p}" for p in exc.problems]
    problems = []
    for doc in docs:
        if doc.get("kind") == "StatefulSet" and doc["metadata"]["name"] == "storesight-ingest":
            replicas = doc["spec"].get("replicas", 1)
            if replicas != config.pipeline.ingest.replicas:
                problems.append(f"{overlay.name}: ingest StatefulSet has {replicas} replicas but config.yaml "
                                f"pipeline.ingest.replicas is {config.pipeline.ingest.replicas}")
    return problems


def _render_or_error(job: tuple[Path, tuple[Path, ...]]) -> str | RenderError:
    try:
        return render(*job)
    except RenderError as exc:
        return exc


def check_k8s(k8s_root: Path, only_overlay: str | None = None, only_components: list[str] | None = None) -> list[str]:
    """Render and check overlays with every component set (or only none and ``only_components``)."""
    problems: list[str] = []
    validated: dict[str, str | None] = {}
    renders = 0
    chosen = [o for o in overlays(k8s_root) if only_overlay in (None, o.name)]
    if not chosen:
        return [f"no overlay {only_overlay!r} under {k8s_root / 'overlays'}"]
    sets = component_sets(k8s_root) if only_components is None else \
        [(), tuple(k8s_root / "components" / name for name in only_components)]
    jobs = [(overlay, combo) for overlay in chosen for combo in dict.fromkeys(sets)]
    # kubectl runs are independent processes: render a few at a time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(_render_or_error, jobs))
    for (overlay, combo), output in zip(jobs, outputs, strict=True):
        label = overlay.name + "".join(f"+{c.name}" for c in combo)
        if isinstance(output, RenderError):
            problems.append(f"{label}: kustomize failed: {output}")
            continue
        docs = [d for d in yaml.safe_load_all(output) if d]
        renders += 1
        for doc in docs:
            key = json.dumps(doc, sort_keys=True)
            if key not in validated:
                validated[key] = validate_schema(doc)
            if validated[key]:
                problems.append(f"{label}: {_name(doc)}: {validated[key]}")
        problems += [f"{label}: {p}" for p in policy_problems(docs)]
        problems += [f"{label}: {p}" for p in kafka_access_problems(docs)]
        if not combo:
            problems += config_problems(overlay, docs)
    print(f"k8s: {renders} renders ({len(chosen)} overlay(s) x {len(dict.fromkeys(sets))} "
          f"component sets), {len(validated)} distinct objects validated")
    return sorted(set(problems), key=problems.index)


# ---------------------------------------------------------------- Prometheus


def _without_kubernetes_sd(config_file: Path, into: Path) -> Path:
    """Debian's promtool is built without Kubernetes service discovery: check the rest of the
    file (relabelling, rule files) with each kubernetes_sd_configs swapped for an empty static list."""
    config = yaml.safe_load(config_file.read_text())
    for job in config.get("scrape_configs", []):
        if job.pop("kubernetes_sd_configs", None) is not None:
            job.setdefault("static_configs", [{"targets": []}])
    into.mkdir(parents=True, exist_ok=True)
    out = into / config_file.name
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    for rule_file in config.get("rule_files", []):
        for path in config_file.parent.glob(rule_file):
            target = into / path.relative_to(config_file.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return out


def rule_expressions(prom_root: Path) -> list[tuple[str, str]]:
    """(rule name, expression) for every recording and alerting rule."""
    found = []
    for path in sorted((prom_root / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append((rule.get("record") or rule["alert"], rule["expr"]))
    return found


def check_prometheus(prom_root: Path) -> list[str]:
    problems = []
    promtool = tool("promtool")
    with tempfile.TemporaryDirectory(prefix="storesight-prom-") as tmp:
        for config_file in sorted(prom_root.glob("prometheus*.yml")):
            checked = _without_kubernetes_sd(config_file, Path(tmp) / config_file.stem)\
                if "kubernetes_sd_configs" in config_file.read_text() else config_file
            code, out = run([promtool, "check", "config", str(checked)], cwd=checked.parent)
            if code:
                problems.append(f"promtool check config {config_file.name}:\n{out}")
    rules = sorted(str(p) for p in (prom_root / "rules").glob("*.yml"))
    code, out = run([promtool, "check", "rules", *rules])
    if code:
        problems.append(f"promtool check rules:\n{out}")
    for test in sorted((prom_root / "tests").glob("*.yml")):
        code, out = run([promtool, "test", "rules", test.name], cwd=test.parent)
        if code:
            problems.append(f"promtool test rules {test.name}:\n{out}")
    from deploy.metrics import unknown_names

    for name, expr in rule_expressions(prom_root):
        if unknown_names(expr):
            problems.append(f"rule {name}: unknown metric(s) {sorted(unknown_names(expr))}")
    print(f"prometheus: {len(rule_expressions(prom_root))} rules, "
          f"{len(list((prom_root / 'tests').glob('*.yml')))} test file(s)")
    return problems


# ---------------------------------------------------------------- Grafana


def substitute_variables(expr: str, store: str = "store") -> str:
    """A dashboard query with Grafana's variables replaced, so Prometheus can run it."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr.replace("$store", store).replace("${store}", store)


_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")


def as_bool_comparisons(expr: str) -> str:
    """``a > 5`` -> ``a > bool 5``: the rule's signal, every series kept with 0/1 for the comparison.

    Used to check that an alert expression has data even while it is not firing. Label
    matchers (inside braces) and strings are left alone.
    """
    out: list[str] = []
    depth, quote, i = 0, "", 0
    while i < len(expr):
        char = expr[i]
        if quote:
            quote = "" if char == quote and expr[i - 1] != "\\" else quote
        elif char in "\"'`":
            quote = char
        elif char in "{}":
            depth += 1 if char == "{" else -1
        elif depth == 0 and (match := _COMPARISON.match(expr, i)):
            already = expr[match.end():].lstrip().startswith("bool")
            out.append(match.group() + ("" if already else " bool"))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _prometheus(item: dict, default: dict | None = None) -> bool:
    """True for a target or variable that queries Prometheus. The PostgreSQL panels of "Store
    history" are checked by the archive's own tests, against a real database."""
    source = item.get("datasource") or default or {}
    return source.get("type", "prometheus") == "prometheus"


def dashboard_queries(dashboard_dir: Path) -> list[tuple[str, str]]:
    """(where, expression) for every Prometheus panel target and query variable of every dashboard."""
    found = []
    for path in sorted(dashboard_dir.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard.get("panels", []):
            for target in panel.get("targets", []):
                if _prometheus(target, panel.get("datasource")):
                    found.append((f"{path.name} '{panel['title']}' {target['refId']}", target["expr"]))
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and _prometheus(variable):
                query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
                match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
                found.append((f"{path.name} variable {variable['name']}", match[1] if match else query))
    return found


def check_dashboards(dashboard_dir: Path) -> list[str]:
    from deploy.metrics import unknown_names

    problems = []
    for path in sorted(dashboard_dir.glob("*.json")):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: not JSON: {exc}")
            continue
        for key in ("uid", "title", "panels"):
            if not dashboard.get(key):
                problems.append(f"{path.name}: missing {key}")
    if problems:
        return problems
    queries = dashboard_queries(dashboard_dir)
    for where, expr in queries:
        if unknown_names(expr):
            problems.append(f"{where}: unknown metric(s) {sorted(unknown_names(expr))}")
    # promtool parses rule expressions: one recording rule per query.
    rules = {"groups": [{"name": "dashboard-queries", "rules": [
        {"record": f"dashboard:query_{i}", "expr": substitute_variables(expr)} for i, (_, expr) in enumerate(queries)
    ]}]}
    with tempfile.TemporaryDirectory(prefix="storesight-dash-") as tmp:
        rules_file = Path(tmp) / "queries.yml"
        rules_file.write_text(yaml.safe_dump(rules))
        code, out = run([tool("promtool"), "check", "rules", str(rules_file)])
    if code:
        for i, (where, _) in reversed(list(enumerate(queries))):
            out = out.replace(f"dashboard:query_{i}", where)
        problems.append(f"dashboard queries do not parse:\n{out}")
    print(f"grafana: {len(list(dashboard_dir.glob('*.json')))} dashboards, {len(queries)} queries")
    return problems


# ---------------------------------------------------------------- generated files


def check_generated() -> list[str]:
    from deploy import strimzi
    from deploy.grafana import generate

    problems = []
    if strimzi.main(["--check"]):
        problems.append("deploy/k8s/components/strimzi/topics.yaml is stale")
    if generate.main(["--check"]):
        problems.append("deploy/grafana/dashboards is stale")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check every deployment asset offline.")
    parser.add_argument("--k8s-root", type=Path, default=DEPLOY / "k8s")
    parser.add_argument("--prometheus-root", type=Path, default=DEPLOY / "prometheus")
    parser.add_argument("--dashboards", type=Path, default=DEPLOY / "grafana" / "dashboards")
    parser.add_argument("--overlay", help="check only this overlay (default: all)")
    parser.add_argument("--components", help="comma-separated: check only the plain overlay and it with "
                        "these components (default: every combination)")
    parser.add_argument("--only", choices=["k8s", "prometheus", "grafana", "generated"], action="append")
    args = parser.parse_args(argv)
    parts = args.only or ["k8s", "prometheus", "grafana", "generated"]
    problems: list[str] = []
    if "k8s" in parts:
        components_arg = None if args.components is None else [c for c in args.components.split(",") if c]
        problems += check_k8s(args.k8s_root, args.overlay, components_arg)
    if "prometheus" in parts:
        problems += check_prometheus(args.prometheus_root)
    if "grafana" in parts:
        problems += check_dashboards(args.dashboards)
    if "generated" in parts:
        problems += check_generated()
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"deploy-check: {'FAILED, ' + str(len(problems)) + ' problem(s)' if problems else 'OK'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
