"""The Dockerfile and .dockerignore, checked without a Docker engine: the Dockerfile's rules are parsed, and the
build context that .dockerignore lets through is copied and built into a wheel with pip."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from . import docker_check as dc

pytestmark = pytest.mark.processes   # starts processes (see pyproject.toml's markers)

ROOT = dc.ROOT
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()


def test_dockerfile_meets_the_image_rules():
    assert dc.problems(DOCKERFILE) == []


def test_runtime_stage_details():
    final = dc.stages(DOCKERFILE)[-1]
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert "WHARF_MODE=distributed" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    user = [args for ins, args in final if ins == "USER"][-1]
    assert user.split(":")[0] == "10001", "k8s manifests set runAsUser: 10001"


BREAKAGES = {
    "runs as root": ("USER 10001:10001", "USER root"),
    "no user": ("USER 10001:10001", ""),
    "shell-form entrypoint": ('ENTRYPOINT ["wharf"]', "ENTRYPOINT wharf"),
    "other base": ("FROM python:3.11-slim\n", "FROM python:3.12\n"),
    "no port": ("EXPOSE 8080", "EXPOSE 9090"),
    "no pip install": ("RUN /opt/wharf/bin/pip install -c requirements/runtime.txt .", "RUN true"),
    "not from the lock": ("RUN /opt/wharf/bin/pip install -c requirements/runtime.txt .",
                          "RUN /opt/wharf/bin/pip install ."),
    "user by name": ("USER 10001:10001", "USER wharf"),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_dockerfile_is_rejected(name):
    old, new = BREAKAGES[name]
    assert old in DOCKERFILE
    assert dc.problems(DOCKERFILE.replace(old, new)), name


def test_continuations_and_comments_are_parsed():
    ins = dc.instructions("FROM python:3.11-slim\n# c\nRUN a \\\n  # inner\n  && b\nUSER 1\n")
    assert ins == [("FROM", "python:3.11-slim"), ("RUN", "a  && b"), ("USER", "1")]


def test_dockerignore_matching_follows_docker_rules():
    rules = dc.ignore_rules("*\n!services/\n**/__pycache__\n!keep.txt\n")
    assert dc.is_ignored(".git/config", rules)
    assert dc.is_ignored("tests/deploy/test_x.py", rules)
    assert not dc.is_ignored("services/kernel/settings.py", rules)
    assert dc.is_ignored("services/kernel/__pycache__/settings.cpython-311.pyc", rules)
    assert not dc.is_ignored("keep.txt", rules)


def test_build_context_is_small_and_complete():
    ctx = dc.build_context(ROOT, DOCKERIGNORE)
    assert "pyproject.toml" in ctx
    assert "requirements/runtime.txt" in ctx, "the image installs from the lock"
    source = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "services").rglob("*.py")
                    if "__pycache__" not in p.parts)
    assert source and set(source) <= set(ctx)
    for path in ctx:
        assert path.split("/")[0] in {"pyproject.toml", "README.md", "LICENSE", "services"} \
            or path == "requirements/runtime.txt", path
        assert "__pycache__" not in path and not path.endswith(".pyc")


def test_an_ignore_file_that_drops_the_sources_is_caught():
    ctx = dc.build_context(ROOT, DOCKERIGNORE + "services/\n")
    assert not any(p.startswith("services/") for p in ctx)


def test_build_context_builds_the_wharf_wheel(tmp_path):
    """What `pip install .` does in the Dockerfile, on exactly the files the context holds (needs PyPI for
    the isolated build backend, as docker build does)."""
    ctx = tmp_path / "ctx"
    for rel in dc.build_context(ROOT, DOCKERIGNORE):
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, ctx / rel)
    out = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ctx)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = out.glob("wharf-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "wharf = services.cli:main" in entry_points
    assert "services/kernel/settings.py" in names
    for svc in ("auth", "registry", "indexer"):    # `wharf migrate` in the image needs the revision scripts
        assert f"services/{svc}/adapters/migrations/versions/0001_baseline.py" in names, svc
    if (ROOT / "services/cli.py").exists():
        assert "services/cli.py" in names
