"""Every overlay under k8s/overlays renders with `kubectl kustomize` into objects that validate (Kubernetes
schemas; KEDA's vendored schema), and what each rendered overlay must say: probes, resources and a non-root
security context on every workload, a PodDisruptionBudget per Deployment, NetworkPolicies under which only the
gateway takes traffic from outside, secrets only by reference, the migrations Job, the gateway's HPA, KEDA on the
indexer's real queue."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from . import k8s_check as k

OVERLAYS = k.overlay_dirs()
IDS = [p.name for p in OVERLAYS]
DB_KEYS = {"auth": "WHARF_AUTH_DB_URL", "registry": "WHARF_REGISTRY_DB_URL", "indexer": "WHARF_INDEXER_DB_URL"}
SECRETISH = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|_DB_URL|_URI|TOKEN|_PASS$")
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def test_the_overlays_are_dev_and_production():
    assert {"dev", "production"} <= set(IDS)


@pytest.fixture(scope="module", params=OVERLAYS, ids=IDS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param.name, k.kustomize_build(request.param)


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def pod_labels(obj):
    return obj["spec"]["template"]["metadata"]["labels"]


def all_containers(obj):
    spec = pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


def matches(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are used here: {selector}"
    return all(labels.get(key) == val for key, val in selector.get("matchLabels", {}).items())


# ---------------------------------------------------------------------------------------------- validity
def test_every_object_validates(rendered):
    name, objs = rendered
    assert objs
    for obj in objs:
        k.validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "wharf", (name, obj["kind"], obj["metadata"]["name"])


def test_names_are_unique_per_kind(rendered):
    _, objs = rendered
    keys = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys))


# ---------------------------------------------------------------------------------------------- workloads
def test_every_workload_has_probes_resources_and_runs_as_non_root(rendered):
    name, objs = rendered
    workloads = [o for o in objs if o["kind"] in WORKLOADS]
    assert len(by_kind(objs, "Deployment")) == 5
    for w in workloads:
        where = f"{name}: {w['kind']}/{w['metadata']['name']}"
        pod = pod_spec(w)
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"].get("runAsUser", 0) != 0, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod.get("automountServiceAccountToken") is False, where
        for c in all_containers(w):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], where
            assert sc.get("runAsUser", 1) != 0 and sc.get("privileged") is not True, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (where, c["name"], kind)
        if w["kind"] != "Job":
            for c in pod["containers"]:
                assert "readinessProbe" in c and "livenessProbe" in c, (where, c["name"])
        if w["kind"] == "Deployment":
            for c in all_containers(w):
                assert c["securityContext"]["readOnlyRootFilesystem"] is True, (where, c["name"])


def test_readiness_checks_dependencies_and_liveness_does_not(rendered):
    _, objs = rendered
    for d in by_kind(objs, "Deployment"):
        svc = k.component(d)
        c = k.container(d)
        assert c["readinessProbe"]["exec"]["command"] == ["wharf", "health", svc]
        live = c["livenessProbe"]
        assert live.get("exec", {}).get("command") == ["wharf", "health", svc, "--live"] or \
            live["httpGet"]["path"] == "/healthz"


def test_statefulsets_keep_their_data_on_pvcs(rendered):
    name, objs = rendered
    sets = by_kind(objs, "StatefulSet")
    if name == "production":
        assert sets == [], "production expects external or operator-managed infrastructure"
        return
    assert {s["metadata"]["name"] for s in sets} == {"postgres", "rabbitmq", "minio"}
    services = {s["metadata"]["name"]: s for s in by_kind(objs, "Service")}
    for s in sets:
        (claim,) = s["spec"]["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in k.container(s)["volumeMounts"]}
        assert claim["metadata"]["name"] in mounts
        svc = services[s["spec"]["serviceName"]]
        assert matches({"matchLabels": svc["spec"]["selector"]}, pod_labels(s))


# ---------------------------------------------------------------------------------------------- PDBs
def test_a_pdb_per_deployment(rendered):
    _, objs = rendered
    pdbs = by_kind(objs, "PodDisruptionBudget")
    for d in by_kind(objs, "Deployment"):
        covering = [p for p in pdbs if matches(p["spec"]["selector"], pod_labels(d))]
        assert len(covering) == 1, d["metadata"]["name"]
        (pdb,) = covering
        assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) < \
            d["spec"].get("replicas", 1), "a PDB that blocks every drain"
    deployments = by_kind(objs, "Deployment")
    for p in pdbs:   # and no PDB covers nothing
        assert any(matches(p["spec"]["selector"], pod_labels(d)) for d in deployments), p["metadata"]["name"]


# ---------------------------------------------------------------------------------------------- network
def _policies_for(objs, labels):
    return [p for p in by_kind(objs, "NetworkPolicy") if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
            and matches(p["spec"]["podSelector"], labels)]


def _admits_outside(rule) -> bool:
    """Whether an ingress rule lets in traffic from outside this namespace's pods."""
    peers = rule.get("from")
    if not peers:
        return True
    return any("ipBlock" in p or "namespaceSelector" in p for p in peers)


MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


def _scrape_only(rule) -> bool:
    """A rule that lets only the monitoring namespace reach the metrics port 9100."""
    return bool(rule.get("from")) and all(p == MONITORING for p in rule["from"]) and \
        bool(rule.get("ports")) and all(p.get("port") == 9100 for p in rule["ports"])


def test_metrics_are_scrapeable_by_monitoring_only(rendered):
    _, objs = rendered
    for d in by_kind(objs, "Deployment"):
        annotations = d["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", d["metadata"]["name"]
        port = int(annotations["prometheus.io/port"])
        assert port == 9100 and {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in \
            k.container(d).get("ports", []), d["metadata"]["name"]
        rules = [r for p in _policies_for(objs, pod_labels(d)) for r in p["spec"].get("ingress", [])]
        if d["metadata"]["name"] == "wharf-gateway":     # its public port too (the next test), metrics on 9100
            rules = [r for r in rules if [p["port"] for p in r.get("ports", [])] != [8080]]
        assert rules and all(_scrape_only(r) for r in rules), d["metadata"]["name"]


def test_default_deny_and_only_the_gateway_takes_outside_traffic(rendered):
    _, objs = rendered
    denies = [p for p in by_kind(objs, "NetworkPolicy")
              if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]
              and not p["spec"].get("ingress")]
    assert len(denies) == 1, "a default-deny ingress policy for every pod"
    pods = {o["metadata"]["name"]: pod_labels(o) for o in objs if o["kind"] in WORKLOADS}
    outside = {name for name, labels in pods.items()
               if any(_admits_outside(r) and not _scrape_only(r)
                      for p in _policies_for(objs, labels) for r in p["spec"].get("ingress", []))}
    assert outside == {"wharf-gateway"}
    (gw_policy,) = [p for p in _policies_for(objs, pods["wharf-gateway"]) if p["spec"].get("ingress")
                    and not all(_scrape_only(r) for r in p["spec"]["ingress"])]
    assert [port["port"] for r in gw_policy["spec"]["ingress"] for port in r["ports"]] == [8080]


def test_wharf_pods_reach_the_in_cluster_infrastructure_and_nothing_else_does(rendered):
    name, objs = rendered
    wharf_pods = [pod_labels(o) for o in objs if o["kind"] in WORKLOADS and pod_labels(o).get(
        "app.kubernetes.io/name") == "wharf"]
    for s in by_kind(objs, "StatefulSet"):
        ports = {p["containerPort"] for p in k.container(s)["ports"]}
        rules = [r for p in _policies_for(objs, pod_labels(s)) for r in p["spec"].get("ingress", [])]
        assert rules, s["metadata"]["name"]
        for r in rules:
            assert not _admits_outside(r)
            assert {p["port"] for p in r["ports"]} <= ports
            for peer in r["from"]:
                assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "wharf"}}
        for labels in wharf_pods:    # every Wharf pod (services, migrations Job) is admitted
            assert any(matches(peer["podSelector"], labels) for r in rules for peer in r["from"])


# ---------------------------------------------------------------------------------------------- secrets
def _env_sources(obj):
    for c in all_containers(obj):
        for e in c.get("env", []):
            yield c["name"], e
        for src in c.get("envFrom", []):
            yield c["name"], src


def test_secrets_only_by_reference(rendered):
    name, objs = rendered
    secrets = {s["metadata"]["name"]: s for s in by_kind(objs, "Secret")}
    configmaps = {c["metadata"]["name"]: c for c in by_kind(objs, "ConfigMap")}
    example = k.load_docs(k.BASE / "secret.example.yaml")[0]["stringData"]
    for w in (o for o in objs if o["kind"] in WORKLOADS):
        for cname, e in _env_sources(w):
            assert "secretRef" not in e, "whole Secrets are not injected; each key by secretKeyRef"
            if "name" not in e:
                continue
            if "value" in e:
                assert not SECRETISH.search(e["name"]), f"{name}: {w['metadata']['name']}/{cname} {e['name']} inline"
                continue
            ref = e["valueFrom"].get("secretKeyRef")
            if ref and w["metadata"]["name"].startswith("wharf-"):
                assert ref["name"] == "wharf-secrets" and ref["key"] in example
            if ref and ref["name"] in secrets:
                assert ref["key"] in secrets[ref["name"]]["stringData"], (name, ref)
    for cm in configmaps.values():
        for key in cm.get("data", {}):
            assert not SECRETISH.search(key) or key.endswith(".sql"), (name, key)
    if name == "production":
        assert secrets == {}, "production carries no credential: the operator provides wharf-secrets"
    for ta in by_kind(objs, "TriggerAuthentication"):
        for ref in ta["spec"]["secretTargetRef"]:
            assert ref["name"] == "wharf-secrets" and ref["key"] in example


def test_dev_secrets_are_consistent_with_the_infrastructure():
    objs = k.kustomize_build(k.OVERLAYS / "dev")
    secrets = {s["metadata"]["name"]: s["stringData"] for s in by_kind(objs, "Secret")}
    infra, wharf = secrets["wharf-dev-infra"], secrets["wharf-secrets"]
    assert set(wharf) == set(k.load_docs(k.BASE / "secret.example.yaml")[0]["stringData"])
    for key, db in (("WHARF_AUTH_DB_URL", "wharf_auth"), ("WHARF_REGISTRY_DB_URL", "wharf_registry"),
                    ("WHARF_INDEXER_DB_URL", "wharf_indexer")):
        u = urlsplit(wharf[key])
        assert (u.scheme, u.hostname, u.port, u.path) == ("postgresql", "postgres", 5432, f"/{db}")
        assert (u.username, u.password) == (infra["POSTGRES_USER"], infra["POSTGRES_PASSWORD"])
    u = urlsplit(wharf["WHARF_AMQP_URI"])
    assert (u.hostname, u.port, u.username, u.password) == ("rabbitmq", 5672, infra["RABBITMQ_USER"],
                                                            infra["RABBITMQ_PASSWORD"])
    assert (wharf["WHARF_S3_ACCESS_KEY"], wharf["WHARF_S3_SECRET_KEY"]) == (infra["MINIO_ROOT_USER"],
                                                                          infra["MINIO_ROOT_PASSWORD"])
    config = {c["metadata"]["name"]: c for c in by_kind(objs, "ConfigMap")}
    assert config["wharf-config"]["data"]["WHARF_S3_ENDPOINT"] == "minio:9000"
    sql = (k.ROOT / "deploy/postgres-init/01-wharf-databases.sql").read_text()
    assert config["wharf-postgres-init"]["data"]["01-wharf-databases.sql"] == sql


# ---------------------------------------------------------------------------------------------- migrations
def test_migrations_job_and_services_that_wait_for_it(rendered):
    _, objs = rendered
    (job,) = by_kind(objs, "Job")
    c = k.container(job)
    assert c["args"] == ["migrate", "all"] and "command" not in c
    refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"]}
    assert refs == set(DB_KEYS.values())
    images = {k.container(d)["image"] for d in by_kind(objs, "Deployment")}
    assert images == {c["image"]}
    config = {cm["metadata"]["name"]: cm for cm in by_kind(objs, "ConfigMap")}["wharf-config"]["data"]
    assert config["WHARF_AUTO_MIGRATE"] == "false"
    for d in by_kind(objs, "Deployment"):
        svc = k.component(d)
        inits = pod_spec(d).get("initContainers", [])
        if svc in DB_KEYS:
            (init,) = inits
            assert init["args"][:4] == ["migrate", svc, "--check", "--wait"] and init["image"] == c["image"]
            assert [e["valueFrom"]["secretKeyRef"]["key"] for e in init["env"]] == [DB_KEYS[svc]]
        else:
            assert inits == []


# ---------------------------------------------------------------------------------------------- scaling
def test_gateway_hpa(rendered):
    _, objs = rendered
    (hpa,) = by_kind(objs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployments = {d["metadata"]["name"]: d for d in by_kind(objs, "Deployment")}
    assert target["kind"] == "Deployment" and target["name"] == "wharf-gateway" in deployments
    assert k.container(deployments["wharf-gateway"])["resources"]["requests"]["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def indexer_queue_name() -> str:
    """The queue the indexer's registry-event handler consumes, read from the code."""
    from services.indexer.entrypoints.registry_events import RegistryEventsHandler, registry_queue
    from services.indexer.entrypoints.service import IndexerRpc
    handlers = [name for name, fn in vars(IndexerRpc).items()
                if any(isinstance(e, RegistryEventsHandler) for e in getattr(fn, "nameko_entrypoints", ()))]
    (method,) = handlers
    return registry_queue(IndexerRpc.name, method).name


def test_keda_scales_the_indexer_on_its_real_queue():
    objs = k.kustomize_build(k.OVERLAYS / "production")
    (so,) = by_kind(objs, "ScaledObject")
    (ta,) = by_kind(objs, "TriggerAuthentication")
    deployments = {d["metadata"]["name"] for d in by_kind(objs, "Deployment")}
    assert so["spec"]["scaleTargetRef"]["name"] == "wharf-indexer" in deployments
    (trigger,) = so["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == indexer_queue_name() == "evt-registry--indexer.handle"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert trigger["authenticationRef"]["name"] == ta["metadata"]["name"]
    assert ta["spec"]["secretTargetRef"] == [{"parameter": "host", "name": "wharf-secrets",
                                              "key": "WHARF_AMQP_URI"}]
    assert 1 <= so["spec"]["minReplicaCount"] < so["spec"]["maxReplicaCount"]
    assert "host" not in trigger["metadata"], "the AMQP URI carries a password: by reference only"
    indexer = {d["metadata"]["name"]: d for d in by_kind(objs, "Deployment")}["wharf-indexer"]
    assert "replicas" not in indexer["spec"], "KEDA owns the indexer's replica count"


def _keda_doc(kind):
    docs = k.load_docs(k.COMPONENTS / "keda-indexer/scaledobject.yaml")
    return copy.deepcopy({d["kind"]: d for d in docs}[kind])


KEDA_BREAKAGES = {
    "unknown spec field": ("ScaledObject", lambda d: d["spec"].__setitem__("maxReplicas", 3)),
    "replicas as a string": ("ScaledObject", lambda d: d["spec"].__setitem__("minReplicaCount", "1")),
    "no triggers": ("ScaledObject", lambda d: d["spec"].__setitem__("triggers", [])),
    "unknown rabbitmq key": ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].__setitem__(
        "queue", "x")),
    "rabbitmq without queueName": ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].pop(
        "queueName")),
    "bad mode": ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].__setitem__("mode", "Length")),
    "neither host nor authentication": ("ScaledObject", lambda d: d["spec"]["triggers"][0].pop(
        "authenticationRef")),
    "value not a number": ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].__setitem__(
        "value", "lots")),
    "secret ref without key": ("TriggerAuthentication", lambda d: d["spec"]["secretTargetRef"][0].pop("key")),
    "unknown auth provider": ("TriggerAuthentication", lambda d: d["spec"].__setitem__("vault", {})),
}


@pytest.mark.parametrize("name", KEDA_BREAKAGES)
def test_keda_schema_rejects_broken_copies(name):
    kind, breakage = KEDA_BREAKAGES[name]
    doc = _keda_doc(kind)
    k.validate(doc)
    breakage(doc)
    with pytest.raises(jsonschema.ValidationError):
        k.validate(doc)


def test_structural_checks_catch_an_outside_facing_service(tmp_path):
    """An overlay that opens the registry to the world fails the network check."""
    overlay = tmp_path / "open"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [str(Path("..") / Path(*[".."] * len(tmp_path.parts)) / k.BASE.relative_to("/"))],
        "patches": [{"target": {"kind": "NetworkPolicy", "name": "wharf-gateway-ingress"},
                     "patch": "- op: remove\n  path: /spec/podSelector/matchLabels/app.kubernetes.io~1component\n"}],
    }))
    with pytest.raises(AssertionError):
        test_default_deny_and_only_the_gateway_takes_outside_traffic(("open", k.kustomize_build(overlay)))
