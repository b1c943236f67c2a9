"""What the Kubernetes base must say beyond schema validity: one Deployment per service from one image,
probes, security context, where settings and secrets come from; and what `kubectl kustomize` renders."""
from __future__ import annotations

import re

import pytest
import yaml

from . import k8s_check as k
from .repo_facts import architecture_services, settings_env_names

ROOT = k.ROOT
NAMEKO_SERVICES = ("auth", "registry", "storage", "indexer")
DB_KEYS = {"auth": "WHARF_AUTH_DB_URL", "registry": "WHARF_REGISTRY_DB_URL", "indexer": "WHARF_INDEXER_DB_URL"}
SECRET_NAME, CONFIG_NAME = "wharf-secrets", "wharf-config"


@pytest.fixture(scope="module")
def objs():
    return k.base_objects()


@pytest.fixture(scope="module")
def deployments(objs):
    return {k.component(d): d for d in k.of_kind(objs, "Deployment").values()}


def test_every_architecture_service_has_a_deployment(deployments):
    services = architecture_services()
    assert services == {"auth", "registry", "storage", "indexer", "gateway"}
    assert services <= set(deployments)
    assert {f"wharf-{s}" for s in services} == {d["metadata"]["name"] for d in deployments.values()}


def test_one_image_and_run_args(deployments):
    images = {k.container(d)["image"] for d in deployments.values()}
    assert len(images) == 1, images
    for svc, d in deployments.items():
        c = k.container(d)
        assert "command" not in c, f"{svc}: the image's ENTRYPOINT (wharf) must be kept"
        assert c["args"] == ["run", svc]


def test_selectors_pick_their_own_pods_only(deployments):
    for svc, d in deployments.items():
        sel = d["spec"]["selector"]["matchLabels"]
        for other, o in deployments.items():
            labels = o["spec"]["template"]["metadata"]["labels"]
            matches = all(labels.get(key) == val for key, val in sel.items())
            assert matches == (svc == other), (svc, other)


def test_indexer_has_its_own_scalable_deployment(deployments):
    indexer = deployments["indexer"]
    assert indexer["metadata"]["name"] == "wharf-indexer"
    assert isinstance(indexer["spec"]["replicas"], int)
    assert k.container(indexer)["args"] == ["run", "indexer"]


def test_gateway_service_maps_80_to_8080(objs, deployments):
    svc = k.of_kind(objs, "Service")["wharf-gateway"]
    (port,) = svc["spec"]["ports"]
    assert port["port"] == 80
    gw = deployments["gateway"]
    named = {p["name"]: p["containerPort"] for p in k.container(gw).get("ports", [])}
    target = port["targetPort"]
    assert named.get(target, target) == 8080
    labels = gw["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(key) == val for key, val in svc["spec"]["selector"].items())
    assert set(k.of_kind(objs, "Service")) == {"wharf-gateway"}, "the nameko services need no Service"


def test_probes(deployments):
    gw = k.container(deployments["gateway"])
    ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
    for probe in ("startupProbe", "livenessProbe"):
        get = gw[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports.get(get["port"], get["port"]) == 8080
    assert gw["readinessProbe"]["exec"]["command"] == ["wharf", "health", "gateway"]
    for svc in NAMEKO_SERVICES:
        c = k.container(deployments[svc])
        # readiness checks the dependencies too; liveness/startup only the service (`--live`)
        assert c["readinessProbe"]["exec"]["command"] == ["wharf", "health", svc]
        for probe in ("livenessProbe", "startupProbe"):
            assert c[probe]["exec"]["command"] == ["wharf", "health", svc, "--live"], (svc, probe)


def test_security_context_and_resources(deployments):
    for svc, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        c = k.container(d)
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert len(tmp) == 1, f"{svc}: /tmp must be writable"
        vols = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in vols[tmp[0]["name"]]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), (svc, kind)


def _secret_refs(container: dict) -> dict[str, str]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
            for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}


def test_secrets_come_from_the_operators_secret(deployments):
    example = k.load_docs(k.BASE / "secret.example.yaml")[0]
    keys = set(example["stringData"])
    used = set()
    for svc, d in deployments.items():
        c = k.container(d)
        for e in c.get("env", []):
            assert "value" not in e, f"{svc}: {e['name']} hard-coded; use the ConfigMap or the Secret"
            assert e["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
        refs = _secret_refs(c)
        assert all(name == key for name, key in refs.items())
        assert set(refs.values()) <= keys, f"{svc}: keys missing from secret.example.yaml"
        assert {"WHARF_SECRET_KEY", "WHARF_AMQP_URI"} <= set(refs)
        used |= set(refs.values())
        assert [e["configMapRef"]["name"] for e in c["envFrom"]] == [CONFIG_NAME]
    assert used == keys, "secret.example.yaml lists keys no service reads"


def test_each_service_reads_only_its_own_database(deployments):
    for svc, d in deployments.items():
        refs = set(_secret_refs(k.container(d)))
        dbs = {key for key in refs if key.endswith("_DB_URL")}
        assert dbs == ({DB_KEYS[svc]} if svc in DB_KEYS else set()), svc
        s3 = {"WHARF_S3_ACCESS_KEY", "WHARF_S3_SECRET_KEY"} <= refs
        assert s3 == (svc in ("storage", "indexer")), svc


def test_configmap_holds_no_secrets_and_names_settings_reads(objs):
    data = k.of_kind(objs, "ConfigMap")[CONFIG_NAME]["data"]
    assert data["WHARF_MODE"] == "distributed" and data["WHARF_BLOB_BACKEND"] == "s3"
    for key in data:
        assert not re.search(r"SECRET|PASSWORD|ACCESS_KEY|_DB_URL|AMQP", key), key
    example = k.load_docs(k.BASE / "secret.example.yaml")[0]["stringData"]
    assert (set(data) | set(example)) <= settings_env_names(), "a name Settings.from_env does not read"
    assert not set(data) & set(example)


def test_everything_lives_in_the_wharf_namespace():
    kz = yaml.safe_load((k.BASE / "kustomization.yaml").read_text())
    assert kz["namespace"] == "wharf"
    assert k.of_kind(k.base_objects(), "Namespace").keys() == {"wharf"}
    assert k.load_docs(k.BASE / "secret.example.yaml")[0]["metadata"]["namespace"] == "wharf"


# ------------------------------------------------------------------------------------- kubectl kustomize


def test_base_renders_valid_objects():
    rendered = k.kustomize_build(k.BASE)
    kinds = sorted(o["kind"] for o in rendered)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Deployment", "Deployment", "Deployment",
                     "HorizontalPodAutoscaler", "Job", "Namespace", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy",
                     "PodDisruptionBudget", "PodDisruptionBudget", "PodDisruptionBudget", "PodDisruptionBudget",
                     "PodDisruptionBudget", "Service"]
    for obj in rendered:
        k.validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "wharf"
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "wharf"


def test_production_overlay_swaps_the_image_and_raises_replicas():
    base = {o["metadata"]["name"]: o for o in k.kustomize_build(k.BASE) if o["kind"] == "Deployment"}
    over = {o["metadata"]["name"]: o for o in k.kustomize_build(k.OVERLAYS / "production")
            if o["kind"] == "Deployment"}
    for name in ("wharf-gateway", "wharf-auth", "wharf-registry", "wharf-storage"):
        assert over[name]["spec"]["replicas"] > base[name]["spec"]["replicas"], name
    images = {c["image"] for d in over.values()
              for c in d["spec"]["template"]["spec"]["containers"] + d["spec"]["template"]["spec"].get(
                  "initContainers", [])}
    assert images == {"registry.example.com/wharf:0.1.0"}


def test_kustomize_fails_on_a_missing_resource(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: [nope.yaml]\n")
    with pytest.raises(RuntimeError):
        k.kustomize_build(tmp_path)
