"""The lock (requirements/*.txt) is what every install uses, and it agrees with pyproject.toml.

`make serve` installs requirements/runtime.txt, `make test` (and so `.ci/run`) requirements/test.txt, the
Dockerfile runtime.txt; `make lock` re-resolves both on purpose. These tests fail when a dependency is added to
pyproject.toml without re-locking, when the two locks disagree on a version, or when an install path stops
using the lock."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {line} is not an exact pin"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def _declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(d) for d in deps]


def test_every_declared_dependency_is_locked_at_an_allowed_version():
    for lock, extra in (("runtime.txt", None), ("test.txt", "test")):
        pins = _pins(ROOT / "requirements" / lock)
        for req in _declared(extra):
            name = canonicalize_name(req.name)
            assert name in pins, f"{req.name} is in pyproject.toml but not in requirements/{lock}: run make lock"
            assert req.specifier.contains(pins[name], prereleases=True), \
                f"requirements/{lock} pins {name}=={pins[name]}, pyproject.toml asks {req.specifier}: make lock"


def test_runtime_lock_is_the_test_lock_minus_the_test_tools():
    runtime, test = _pins(ROOT / "requirements/runtime.txt"), _pins(ROOT / "requirements/test.txt")
    assert set(runtime) < set(test)
    assert {n: v for n, v in runtime.items() if test[n] != v} == {}
    for tool in ("pytest", "moto", "schemathesis", "playwright"):   # make serve installs no test toolchain
        assert tool not in runtime


def test_every_install_path_uses_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line and "pip==" not in line]
    assert installs and all(re.search(r"-c requirements/(runtime|test)\.txt", line) for line in installs), installs
    assert "-c requirements/runtime.txt -e .\n" in makefile and "-c requirements/test.txt -e '.[test]'" in makefile
    assert re.search(r"^serve: \$\(RUNTIME_STAMP\)", makefile, re.M), "make serve installs the runtime only"
    assert "make test" in (ROOT / ".ci/run").read_text()
    assert "-c requirements/runtime.txt ." in (ROOT / "Dockerfile").read_text()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert all("==" in r for r in build), "the build backend is pinned too"


def test_the_locked_setuptools_still_has_what_nameko_imports():
    """nameko 2 imports pkg_resources, which setuptools 81 removed: with an unbounded setuptools in the lock
    (anaconda-client pulls it in) every nameko service of a fresh install crashed at start. The build backend is
    pinned to the same version."""
    import importlib
    importlib.import_module("pkg_resources")
    pins = _pins(ROOT / "requirements/runtime.txt")
    assert pins["setuptools"] < Version("81")
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert build == [f"setuptools=={pins['setuptools']}"]
