"""deploy/k8s: every manifest valid against Kubernetes 1.30's schemas (strict, offline),
and wired the way deploy/README.md describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate.utils import ValidationError, validate

from storage.db import POOL_OVERFLOW
from storage.direct import POSTGRES_READERS
from tests.deploy.files import DEPLOY, IMAGE_UID

K8S = DEPLOY / "k8s"
VERSION = "1.30"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
SECRET_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PARLEY_DATABASE_URL")


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [d for d in yaml.safe_load_all(file) if d]


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    """kind -> the one object of that kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in MANIFESTS:
        for document in documents(path):
            assert document["kind"] not in found, f"two {document['kind']}s"
            found[document["kind"]] = document
    return found


def pod_of(workload: dict[str, Any]) -> Any:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_for_kubernetes(path: Path) -> None:
    for document in documents(path):
        assert validate(document, VERSION, strict=True) == VERSION


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # The control for the test above: an unknown field is not silently accepted.
    (deployment,) = documents(K8S / "deployment.yaml")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(ValidationError):
        validate(deployment, VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    (kustomization,) = documents(K8S / "kustomization.yaml")
    expected = {p.name for p in MANIFESTS} - {"secret.example.yaml"}
    assert sorted(kustomization["resources"]) == sorted(expected)


def test_two_replicas_probed_on_healthz_with_resources(objects: dict[str, Any]) -> None:
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    (container,) = pod_of(deployment)["spec"]["containers"]
    assert container["args"] == ["parley", "serve", "--host", "0.0.0.0", "--port", "3000"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == "/healthz"
        assert ports[http["port"]] == 3000
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])


def test_secrets_come_from_the_secret_and_the_rest_from_the_configmap(
    objects: dict[str, Any],
) -> None:
    for kind in ("Deployment", "CronJob"):
        for container in pod_of(objects[kind])["spec"]["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            for name, entry in env.items():
                assert "value" not in entry, f"{kind}: {name} is written in the manifest"
                ref = entry["valueFrom"]["secretKeyRef"]
                assert (ref["name"], ref["key"]) == ("parley", name)
            assert "PARLEY_DATABASE_URL" in env
    (container,) = pod_of(objects["Deployment"])["spec"]["containers"]
    env = {e["name"] for e in container["env"]}
    assert set(SECRET_SETTINGS) <= env
    assert container["envFrom"] == [{"configMapRef": {"name": "parley"}}]
    config = objects["ConfigMap"]["data"]
    assert config["PARLEY_SCHEDULER"] == "on"  # in every replica
    # Every replica's pool, its burst, its readers (as many as the pool, at most
    # POSTGRES_READERS) and its LISTEN connection within max_connections (100).
    replicas = objects["Deployment"]["spec"]["replicas"]
    pool = int(config["PARLEY_DB_POOL"])
    assert replicas * (pool + POOL_OVERFLOW + min(pool, POSTGRES_READERS) + 1) <= 100
    assert not set(config) & env
    assert set(SECRET_SETTINGS) <= set(objects["Secret"]["stringData"])


def test_pods_run_as_the_images_user_without_privileges(objects: dict[str, Any]) -> None:
    for kind in ("Deployment", "CronJob"):
        spec = pod_of(objects[kind])["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == IMAGE_UID
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])


def test_service_and_budget_select_the_deployments_pods(objects: dict[str, Any]) -> None:
    labels = pod_of(objects["Deployment"])["metadata"]["labels"]
    service = objects["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    assert (
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    backup_labels = pod_of(objects["CronJob"])["metadata"]["labels"]
    assert not service["selector"].items() <= backup_labels.items()  # jobs get no traffic


def test_nightly_export_to_the_backup_claim(objects: dict[str, Any]) -> None:
    cronjob = objects["CronJob"]
    minute, hour, *every_day = cronjob["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and every_day == ["*", "*", "*"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_of(cronjob)["spec"]
    (container,) = spec["containers"]
    script = " ".join(container["command"] + container["args"])
    assert "parley export >" in script
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    (volume,) = claims
    assert claims[volume] == objects["PersistentVolumeClaim"]["metadata"]["name"]
    assert f"{mounts[volume]}/parley-" in script
    assert spec["securityContext"]["fsGroup"] == IMAGE_UID  # may write to the claim
