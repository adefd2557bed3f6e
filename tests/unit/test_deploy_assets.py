"""Deployment assets that can be checked without tools: Dockerfiles, generated files, configs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from deploy import strimzi
from deploy.grafana import generate
from deploy.metrics import METRICS, unknown_names
from storesight.config import AlertSettings, load_config
from storesight.service import DEFAULT_PORTS
from storesight.topics import ALL_TOPICS

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "deploy" / "docker").glob("Dockerfile.*"))
OVERLAYS = sorted((REPO / "deploy" / "k8s" / "overlays").iterdir())


def _stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def _instruction(stage: list[str], name: str) -> list[str]:
    return [line[len(name) + 1:].strip() for line in stage if line.upper().startswith(name + " ")]


def test_there_is_an_image_per_service_and_two_for_detect():
    names = {p.name.removeprefix("Dockerfile.") for p in DOCKERFILES}
    assert names == {"ingest", "detect-cpu", "detect-gpu", "aggregate", "alerts", "archive", "console"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_multistage_pinned_and_non_root(dockerfile):
    stages = _stages(dockerfile)
    assert len(stages) >= 2, "build and runtime stages"
    for stage in stages:
        image = _instruction(stage, "FROM")[0].split()[0]
        assert "@sha256:" in image or re.search(r":[^:/]*\d[^:/]*$", image), f"{image} is not pinned"
        assert not image.endswith(":latest")
    final = stages[-1]
    users = _instruction(final, "USER")
    assert users, "the runtime stage must switch to a user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the runtime stage must not run as root"
    assert any("COPY --from=" in line for line in final), "the runtime stage copies the built environment"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_entrypoint_module_exists(dockerfile):
    """Fails (not skips) until the service package is merged: the image would not start."""
    entrypoint = yaml.safe_load(_instruction(_stages(dockerfile)[-1], "ENTRYPOINT")[-1])
    assert entrypoint[:2] == ["python", "-m"], entrypoint
    module = entrypoint[2]
    service = dockerfile.name.removeprefix("Dockerfile.").split("-")[0]
    assert module == f"services.{service}"
    main = REPO / Path(*module.split(".")) / "__main__.py"
    assert main.exists(), f"{dockerfile.name} runs {module}, but {main.relative_to(REPO)} does not exist"
    port = int(_instruction(_stages(dockerfile)[-1], "EXPOSE")[-1])
    assert port == DEFAULT_PORTS[service]


def test_detect_images_install_the_makefile_model_packages():
    makefile = (REPO / "Makefile").read_text()
    wanted = set(re.search(r"^MODEL_PACKAGES := (.+)$", makefile, re.M)[1].split())
    for name in ("Dockerfile.detect-cpu", "Dockerfile.detect-gpu"):
        text = (REPO / "deploy" / "docker" / name).read_text()
        installed = set(re.findall(r"[\w.-]+==[\w.]+", text))
        assert wanted <= installed, f"{name} lacks {wanted - installed}"
    assert "'.[gpu]'" in (REPO / "deploy" / "docker" / "Dockerfile.detect-gpu").read_text()


def test_strimzi_topics_match_the_registry():
    committed = [d for d in yaml.safe_load_all(strimzi.TOPICS_FILE.read_text()) if d]
    assert strimzi.TOPICS_FILE.read_text() == strimzi.render(), "regenerate: python -m deploy.strimzi"
    by_name = {d["spec"]["topicName"]: d for d in committed}
    assert set(by_name) == {t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        spec = by_name[topic.name]["spec"]
        assert spec["partitions"] == topic.partitions
        assert int(spec["config"]["retention.ms"]) == topic.retention_ms
        assert int(spec["config"]["max.message.bytes"]) == topic.max_message_bytes


def test_dashboards_regenerate_to_the_committed_files():
    for name, text in generate.render_all().items():
        assert (generate.DASHBOARD_DIR / name).read_text() == text, f"regenerate: python -m deploy.grafana.generate ({name})"


def test_dashboards_use_only_agreed_metrics_and_the_alert_link_uid():
    uids = set()
    for build in generate.DASHBOARDS.values():
        dashboard = build()
        uids.add(dashboard["uid"])
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                assert not unknown_names(target["expr"]), (panel["title"], target["expr"])
    # Alert messages link to the store dashboard by uid.
    assert AlertSettings().dashboard_url.rsplit("/", 1)[-1] in uids
    for overlay in OVERLAYS:
        assert load_config(overlay / "config.yaml").pipeline.alerts.dashboard_url.rsplit("/", 1)[-1] in uids


def test_unknown_metric_names_are_caught():
    assert unknown_names("rate(storesight_detect_frames_total[1m])") == set()
    assert unknown_names("histogram_quantile(0.9, rate(storesight_detect_lag_seconds_bucket[1m]))") == set()
    assert unknown_names("storesight_detect_lag_seconds") == {"storesight_detect_lag_seconds"}
    assert unknown_names("rate(storesight_detect_frame_total[1m])") == {"storesight_detect_frame_total"}
    assert len(METRICS) == 45


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_overlay_config_is_a_valid_region(overlay):
    config = load_config(overlay / "config.yaml")
    assert config.region == overlay.name
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == f"storesight-{overlay.name}"
    shards = {r["name"]: r["count"] for r in kustomization.get("replicas", [])}
    assert shards.get("storesight-ingest", 1) == config.pipeline.ingest.replicas


def test_strimzi_users_and_kustomization_regenerate_to_the_committed_files():
    for path, text in strimzi.generated().items():
        assert path.read_text() == text, f"regenerate: python -m deploy.strimzi ({path.name})"


def test_access_table_names_the_groups_the_services_use():
    import inspect

    from services.aggregate.service import AggregateWorker
    from services.alerts.service import GROUP as ALERTS_GROUP
    from services.archive.service import GROUP as ARCHIVE_GROUP
    from services.console.incidents import GROUP as CONSOLE_GROUP
    from services.detect.service import GROUP as DETECT_GROUP
    from storesight.access import ACCESS

    assert ACCESS["detect"].group == DETECT_GROUP
    assert ACCESS["alerts"].group == ALERTS_GROUP
    assert ACCESS["archive"].group == ARCHIVE_GROUP
    assert ACCESS["aggregate"].group == inspect.signature(AggregateWorker).parameters["group"].default
    assert ACCESS["ingest"].group is None and not ACCESS["ingest"].reads
    assert ACCESS["console"].group == CONSOLE_GROUP and not ACCESS["console"].writes
