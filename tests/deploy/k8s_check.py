"""Offline checks of the Kubernetes manifests under k8s/: schema validation (kubernetes-validate, strict) and a
minimal reading of kustomizations (their ``resources``), without a cluster."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
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


def validate(doc: dict, version: str | None = None) -> None:
    """Raise unless ``doc`` is a valid object of its kind (strict: unknown fields are errors, and so is a kind
    for which no schema exists)."""
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
    if data.get("kind", "Kustomization") != "Kustomization":
        problems.append(f"{path}: kind is {data.get('kind')!r}")
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


def kustomize_build(directory: Path) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` (offline: no cluster is contacted)."""
    r = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def component(deployment: dict) -> str:
    return deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
