"""Search rules: package type aliases (as anaconda-client's ``PackageType`` accepts them) and who may see a
package in results. Pure functions over package summaries and rows."""
from __future__ import annotations

_ALIASES = {
    "conda": "conda",
    "pypi": "pypi", "python": "pypi", "standard_python": "pypi",
    "r": "r", "cran": "r", "standard_r": "r",
    "file": "file",
    "ipynb": "ipynb", "notebook": "ipynb",
    "env": "env", "environment": "env",
    "project": "project",
    "installer": "installer",
}


def package_type(value: str) -> str:
    """Canonical package type for ``value`` (case-insensitive alias); unknown values compare as given."""
    v = value.strip().lower()
    return _ALIASES.get(v, v)


def matches(summary: dict, package_type_: str | None, platform: str | None) -> bool:
    if package_type_ is not None:
        wanted = package_type(package_type_)
        if wanted not in {package_type(t) for t in summary["package_types"] if isinstance(t, str)}:
            return False
    if platform is not None and platform.strip().lower() not in summary["conda_platforms"]:
        return False
    return True


def visible(pkg: dict, private_owners: set, private_packages: set, collaborations: set) -> bool:
    """Public packages, and private ones the caller was granted (whole owner, one package, collaborator)."""
    key = (pkg["owner"], pkg["name"])
    return pkg["public"] or pkg["owner"] in private_owners or key in private_packages or key in collaborations
