"""The JSON shapes the registry answers with, as anaconda-client reads them
(shared/reference/anaconda-client-api.md section 5). Inputs are read-model rows (dicts, JSON already parsed)."""
from __future__ import annotations

from .versions import latest

RELEASE_FROM_CORE_METADATA = {"summary": "summary", "description": "description",
                              "description_content_type": "description_content_type", "license": "license",
                              "home_page": "home_page", "project_urls": "project_urls",
                              "requires_python": "requires_python", "requires_dist": "requires_dist"}
"""Release attribute <- core-metadata field (as storage read it from the wheel or sdist), used where the
uploading client left the attribute empty: twine sends no license for a License-Expression, anaconda-client
reads neither it nor Description-Content-Type, and neither knows Metadata-Version 2.4's fields."""
PACKAGE_FROM_CORE_METADATA = {"license": "license", "home": "home_page", "description": "description",
                              "description_content_type": "description_content_type"}


def iso(ts: str | None) -> str | None:
    """Event timestamps end in ``Z``; clients want an explicit offset (``+00:00``)."""
    return ts[:-1] + "+00:00" if ts and ts.endswith("Z") else ts


def file_view(pkg: dict, f: dict) -> dict:
    owner, name = pkg["owner"], pkg["name"]
    return {
        "id": f["file_id"],
        "basename": f["basename"],
        "filename": f["filename"],
        "version": f["version"],
        "owner": owner,
        "package": name,
        "full_name": f"{owner}/{name}/{f['version']}/{f['basename']}",
        "description": f["description"],
        "attrs": f["attrs"],
        "type": f["distribution_type"],
        "distribution_type": f["distribution_type"],
        "subdir": f["subdir"],
        "labels": list(f["labels"]),
        "size": f["size"],
        "md5": f["md5"],
        "sha256": f["sha256"],
        "upload_time": iso(f["upload_time"]),
        "uploader": f["uploader"],
        "ndownloads": f.get("ndownloads", 0),
        "dependencies": f["metadata"].get("dependencies"),
        "blob_key": f["blob_key"],
        "record": f["record"],
        "public": pkg["public"],
    }


def _inspected(files: list[dict]) -> dict:
    """The core metadata of the newest PyPI file among ``files`` ({} when there is none)."""
    newest = None
    for f in files:
        meta = f.get("metadata")
        if f["distribution_type"] == "pypi" and isinstance(meta, dict) and meta.get("name"):
            if newest is None or (f.get("upload_time") or "") >= (newest.get("upload_time") or ""):
                newest = f
    return newest["metadata"] if newest else {}


def _empty(value) -> bool:
    """Unset: None, empty, or an object of such (anaconda-client's ``{"name": null, "url": null, ...}``)."""
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return value in (None, "", [])


def with_core_metadata(attrs: dict, files: list[dict], mapping: dict[str, str]) -> dict:
    """``attrs`` with each attribute of ``mapping`` that is missing or empty taken from the core metadata of
    the newest PyPI file among ``files``; attributes a client set win. An empty object keeps its shape: the
    value goes into its ``name`` (anaconda-client's license object)."""
    meta = _inspected(files)
    if not meta:
        return attrs
    out = dict(attrs)
    for attr, field in mapping.items():
        if _empty(out.get(attr)) and not _empty(meta.get(field)):
            current = out.get(attr)
            out[attr] = dict(current, name=meta[field]) if isinstance(current, dict) and current and \
                isinstance(meta[field], str) else meta[field]
    return out


def release_view(pkg: dict, release: dict, files: list[dict]) -> dict:
    owner, name, version = pkg["owner"], pkg["name"], release["version"]
    attrs = with_core_metadata(release["attrs"], files, RELEASE_FROM_CORE_METADATA)
    return {
        "version": version,
        "owner": owner,
        "package": name,
        "full_name": f"{owner}/{name}/{version}",
        "public_attrs": attrs,
        "description": attrs.get("description"),
        "summary": attrs.get("summary"),
        "distributions": [file_view(pkg, f) for f in files],
        "created_at": iso(release["created_at"]),
        "modified_at": iso(release["modified_at"]),
    }


def _types(pkg: dict, files: list[dict]) -> list[str]:
    declared = [t for t in pkg["package_types"] if isinstance(t, str)]
    return list(dict.fromkeys(declared + [f["distribution_type"] for f in files]))


def _conda(files: list[dict]) -> tuple[list, list]:
    conda = [f for f in files if f["distribution_type"] == "conda"]
    platforms = sorted({f["subdir"] for f in conda if f["subdir"]})
    builds = sorted({str(f["attrs"]["build"]) for f in conda if f["attrs"].get("build") is not None})
    return platforms, builds


def package_summary(pkg: dict, releases: list[dict], files: list[dict]) -> dict:
    owner, name = pkg["owner"], pkg["name"]
    versions = [r["version"] for r in releases]
    platforms, builds = _conda(files)
    return {
        "id": pkg["package_id"],
        "name": name,
        "full_name": f"{owner}/{name}",
        "owner": {"login": owner},
        "public": pkg["public"],
        "summary": pkg["summary"],
        "latest_version": latest(versions),
        "versions": versions,
        "package_types": _types(pkg, files),
        "conda_platforms": platforms,
        "builds": builds,
        "created_at": iso(pkg["created_at"]),
        "modified_at": iso(pkg["modified_at"]),
    }


def package_detail(pkg: dict, releases: list[dict], files: list[dict]) -> dict:
    owner, name = pkg["owner"], pkg["name"]
    out = package_summary(pkg, releases, files)
    by_version: dict[str, list[str]] = {r["version"]: [] for r in releases}
    for f in files:
        by_version.setdefault(f["version"], []).append(f["basename"])
    newest = [f for f in files if f["version"] == out["latest_version"]]   # a PyPI project shows its latest
    attrs = with_core_metadata(pkg["public_attrs"], newest, PACKAGE_FROM_CORE_METADATA)
    out["summary"] = out["summary"] or _inspected(newest).get("summary")
    out.update(
        public_attrs=attrs,
        license=attrs.get("license"),
        home=attrs.get("home"),
        description=attrs.get("description"),
        releases=[{"version": r["version"], "full_name": f"{owner}/{name}/{r['version']}",
                   "distributions": by_version.get(r["version"], [])} for r in releases],
        files=[file_view(pkg, f) for f in files],
    )
    return out
