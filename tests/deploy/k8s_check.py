"""Offline checks of the Kubernetes manifests under k8s/: schema validation (kubernetes-validate, strict, for
the built-in kinds; a vendored JSON schema for KEDA's), a minimal reading of kustomizations (their
``resources`` and ``components``), and rendering with `kubectl kustomize`, without a cluster."""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
COMPONENTS = K8S / "components"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# the fields of kustomize.config.k8s.io/v1beta1 Kustomization that these files may use (strict, like the
# Kubernetes schemas: a typo such as `resource:` must not pass silently)
KUSTOMIZATION_FIELDS = {
    "apiVersion", "kind", "metadata", "namespace", "namePrefix", "nameSuffix", "labels", "commonLabels",
    "commonAnnotations", "resources", "components", "images", "replicas", "patches", "configMapGenerator",
    "secretGenerator", "generatorOptions",
}


def kubernetes_version() -> str:
    """The newest Kubernetes version whose schemas the installed kubernetes-validate ships."""
    return kv.latest_version()


def load_docs(path: Path) -> list[dict]:
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def manifest_files() -> list[Path]:
    """Every YAML file under k8s/ that is a Kubernetes object (kustomization files excluded)."""
    return sorted(p for p in K8S.rglob("*.y*ml") if p.name not in KUSTOMIZATION_NAMES)


def kustomization_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("kustomization.y*ml"))


class NoSchema(LookupError):
    """A custom resource of a kind no vendored schema describes."""


@functools.cache
def crd_schemas(group_version: str) -> dict:
    path = SCHEMAS / f"{group_version.replace('/', '-')}.json"
    if not path.is_file():
        raise NoSchema(f"no vendored schema for {group_version}")
    return json.loads(path.read_text())


def validate(doc: dict, version: str | None = None) -> None:
    """Raise unless ``doc`` is a valid object of its kind (strict: unknown fields are errors, and so is a kind
    for which no schema exists). Built-in kinds: kubernetes-validate (kv.ValidationError); KEDA's (keda.sh):
    tests/deploy/schemas/keda.sh-v1alpha1.json (jsonschema.ValidationError)."""
    api = doc.get("apiVersion", "")
    if api.startswith("keda.sh/"):
        schemas = crd_schemas(api)
        if doc.get("kind") not in schemas:
            raise NoSchema(f"no vendored schema for {api} {doc.get('kind')}")
        jsonschema.validate(doc, schemas[doc["kind"]], cls=jsonschema.Draft202012Validator)
        return
    version = version or kubernetes_version()
    kv.validate(doc, version, strict=True)


def validate_file(path: Path, version: str | None = None) -> int:
    docs = load_docs(path)
    if not docs:
        raise ValueError(f"{path}: no Kubernetes object")
    for doc in docs:
        validate(doc, version)
    return len(docs)


def check_kustomization(path: Path) -> list[str]:
    """Problems with one kustomization file: unknown fields, missing resources, files that escape its root."""
    problems = []
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - KUSTOMIZATION_FIELDS
    if unknown:
        problems.append(f"{path}: unknown fields {sorted(unknown)}")
    kind = data.get("kind", "Kustomization")
    expected_api = {"Kustomization": "kustomize.config.k8s.io/v1beta1",
                    "Component": "kustomize.config.k8s.io/v1alpha1"}.get(kind)
    if expected_api is None:
        problems.append(f"{path}: kind is {data.get('kind')!r}")
    elif data.get("apiVersion", expected_api) != expected_api:
        problems.append(f"{path}: a {kind} is {expected_api}, not {data.get('apiVersion')}")
    for comp in data.get("components", []):
        target = (path.parent / comp).resolve()
        kz = [target / n for n in KUSTOMIZATION_NAMES if (target / n).is_file()]
        if not kz:
            problems.append(f"{path}: component {comp} is not a directory with a kustomization")
        elif (yaml.safe_load(kz[0].read_text()) or {}).get("kind") != "Component":
            problems.append(f"{path}: component {comp} is not a kind: Component")
    for res in data.get("resources", []):
        target = (path.parent / res).resolve()
        if target.is_dir():
            if not any((target / n).is_file() for n in KUSTOMIZATION_NAMES):
                problems.append(f"{path}: resource {res} is a directory without a kustomization")
        elif not target.is_file():
            problems.append(f"{path}: resource {res} does not exist")
        elif path.parent.resolve() not in target.parents:
            problems.append(f"{path}: file resource {res} is outside the kustomization's directory")
    return problems


def base_objects(kustomization: Path = BASE / "kustomization.yaml") -> list[dict]:
    """The objects a kustomization's file resources declare (recursing into directory resources)."""
    data = yaml.safe_load(kustomization.read_text())
    out = []
    for res in data.get("resources", []):
        target = (kustomization.parent / res).resolve()
        if target.is_dir():
            out += base_objects(target / "kustomization.yaml")
        else:
            out += load_docs(target)
    return out


def of_kind(objs: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def kubectl() -> str | None:
    return shutil.which("kubectl")


def require_kubectl() -> None:
    """Skip without kubectl, except under CI=true, where every overlay must be rendered."""
    if kubectl() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("kubectl is needed to render the kustomize overlays (kubectl kustomize) and is missing",
                        pytrace=False)
        pytest.skip("SKIPPED because kubectl is not installed")


def overlay_dirs() -> list[Path]:
    return sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").is_file())


@functools.cache
def _build(directory: str) -> str:
    r = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {r.stderr}")
    return r.stdout


def kustomize_build(directory: Path) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` (offline: no cluster is contacted)."""
    require_kubectl()
    if directory.resolve().is_relative_to(K8S):          # the repository's own: render once per session
        return [d for d in yaml.safe_load_all(_build(str(directory.resolve()))) if d]
    r = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def component(deployment: dict) -> str:
    return deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
