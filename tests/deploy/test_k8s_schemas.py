"""Every manifest under k8s/ is a valid Kubernetes object (strict schemas of a recent Kubernetes), every
kustomization resolves, and the validator used here rejects broken copies."""
from __future__ import annotations

import copy

import pytest
import yaml
from kubernetes_validate import utils as kv
from packaging.version import Version

from . import k8s_check as k


def test_a_recent_kubernetes_version_is_used():
    assert Version(k.kubernetes_version()) >= Version("1.30")


def test_there_are_manifests_and_kustomizations():
    names = {p.relative_to(k.K8S).as_posix() for p in k.manifest_files()}
    assert {"base/namespace.yaml", "base/configmap.yaml", "base/secret.example.yaml",
            "base/gateway.yaml", "base/indexer.yaml", "base/migrate-job.yaml", "base/pdb.yaml", "base/hpa.yaml",
            "base/networkpolicy.yaml", "components/keda-indexer/scaledobject.yaml", "overlays/dev/postgres.yaml",
            "overlays/dev/rabbitmq.yaml", "overlays/dev/minio.yaml"} <= names
    kz = {p.relative_to(k.K8S).as_posix() for p in k.kustomization_files()}
    assert {"base/kustomization.yaml", "overlays/dev/kustomization.yaml", "overlays/production/kustomization.yaml",
            "components/keda-indexer/kustomization.yaml"} <= kz


@pytest.mark.parametrize("path", k.manifest_files(), ids=lambda p: p.relative_to(k.K8S).as_posix())
def test_manifest_validates_strictly(path):
    assert k.validate_file(path) >= 1


@pytest.mark.parametrize("path", k.kustomization_files(), ids=lambda p: p.relative_to(k.K8S).as_posix())
def test_kustomization_resources_exist(path):
    assert k.check_kustomization(path) == []


def test_every_base_manifest_is_listed_except_the_secret_example():
    listed = set(yaml.safe_load((k.BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in k.BASE.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert on_disk - listed == {"secret.example.yaml"}
    assert listed <= on_disk


# ------------------------------------------------------------------------------ the validator can fail
def _gateway_deployment() -> dict:
    return k.of_kind(k.load_docs(k.BASE / "gateway.yaml"), "Deployment")["wharf-gateway"]


def _set(doc, path, value):
    *parents, last = path
    for p in parents:
        doc = doc[p]
    doc[last] = value


def _delete(doc, path):
    *parents, last = path
    for p in parents:
        doc = doc[p]
    del doc[last]


BREAKAGES = {
    "unknown field (typo replica)": lambda d: _set(d, ["spec", "replica"], 2),
    "replicas is a string": lambda d: _set(d, ["spec", "replicas"], "two"),
    "containerPort is a name": lambda d: _set(
        d, ["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"], "http"),
    "selector missing": lambda d: _delete(d, ["spec", "selector"]),
    "unknown container field": lambda d: _set(d, ["spec", "template", "spec", "containers", 0, "cmd"], ["x"]),
    "probe without handler type": lambda d: _set(
        d, ["spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet"], {"path": "/healthz"}),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_copy_is_rejected(name):
    doc = copy.deepcopy(_gateway_deployment())
    k.validate(doc)  # the original passes
    BREAKAGES[name](doc)
    with pytest.raises(kv.ValidationError):
        k.validate(doc)


def test_broken_file_on_disk_is_rejected(tmp_path):
    text = (k.BASE / "indexer.yaml").read_text().replace("  replicas: 1\n", "  replicas: 1\n  replcas: 3\n")
    broken = tmp_path / "indexer.yaml"
    broken.write_text(text)
    with pytest.raises(kv.ValidationError):
        k.validate_file(broken)


def test_unknown_kind_is_an_error_not_a_pass():
    with pytest.raises(kv.SchemaNotFoundError):
        k.validate({"apiVersion": "v1", "kind": "Deploymnet", "metadata": {"name": "x"}})
    with pytest.raises(k.NoSchema):
        k.validate({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "metadata": {"name": "x"}})
    with pytest.raises(kv.SchemaNotFoundError):
        k.validate({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"}})


def test_broken_kustomization_is_rejected(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "namespace.yaml").write_text((k.BASE / "namespace.yaml").read_text())
    kz = base / "kustomization.yaml"
    kz.write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                  "resources: [namespace.yaml, missing.yaml]\nresource: [typo.yaml]\n")
    problems = k.check_kustomization(kz)
    assert any("missing.yaml does not exist" in p for p in problems)
    assert any("unknown fields ['resource']" in p for p in problems)
    kz.write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                  "resources: [namespace.yaml]\ncomponents: [../nowhere, .]\n")
    problems = k.check_kustomization(kz)
    assert any("../nowhere is not a directory" in p for p in problems)
    assert any("component . is not a kind: Component" in p for p in problems)
