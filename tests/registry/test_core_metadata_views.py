"""Package and release attributes left empty by the uploading client are filled from the core metadata storage
read from the newest PyPI file (issue 15 item 19): twine sends no license for a License-Expression and
anaconda-client reads no Description-Content-Type. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib

from .conftest import blob_meta

CORE = {"metadata_version": "2.4", "name": "hostile", "version": "1.0", "summary": "From METADATA",
        "description": "# Hostile\n\nMarkdown.\n", "description_content_type": "text/markdown",
        "license": "MIT", "license_expression": "MIT", "classifiers": None, "home_page": "https://example.org/h",
        "project_urls": {"Homepage": "https://example.org/h"}, "requires_dist": ["requests>=2"],
        "requires_python": ">=3.9"}


def _upload(reg, version, filename, metadata):
    content = filename.encode()
    st = reg.stage("alice", "hostile", version, filename, "pypi", hashlib.sha256(content).hexdigest(), [], {},
                   None, None, "alice")
    reg.commit(st["dist_id"], blob_meta(content, filename, metadata=metadata), "alice")


def _twine_like_package(reg):
    """What the PyPI upload view creates from twine's form for a hatchling wheel: no license, no home page."""
    reg.create_package("alice", "hostile", public=True, actor="alice", public_attrs={
        "summary": "", "package_types": ["pypi"], "home": None, "license": None})


def test_empty_attributes_come_from_the_core_metadata(registry):
    _twine_like_package(registry)
    registry.create_release("alice", "hostile", "1.0", {"description": None, "summary": ""}, actor="alice")
    _upload(registry, "1.0", "hostile-1.0-py3-none-any.whl", CORE)

    pkg = registry.get_package("alice", "hostile", False)
    assert (pkg["license"], pkg["home"], pkg["description"]) == ("MIT", "https://example.org/h", CORE["description"])
    assert pkg["summary"] == "From METADATA"
    assert pkg["public_attrs"]["license"] == "MIT"
    assert pkg["public_attrs"]["description_content_type"] == "text/markdown"
    rel = registry.get_release("alice", "hostile", "1.0")
    assert rel["description"] == CORE["description"] and rel["summary"] == "From METADATA"
    attrs = rel["public_attrs"]            # what `anaconda show owner/package/version` prints
    assert attrs["description"] == CORE["description"] and attrs["description_content_type"] == "text/markdown"
    assert (attrs["license"], attrs["home_page"], attrs["requires_python"], attrs["requires_dist"]) == \
        ("MIT", "https://example.org/h", ">=3.9", ["requests>=2"])


def test_what_a_client_set_wins_and_the_latest_release_speaks_for_the_package(registry):
    registry.create_package("alice", "hostile", public=True, actor="alice", public_attrs={
        "summary": "Mine", "package_types": ["pypi"], "license": "Proprietary"})
    registry.create_release("alice", "hostile", "1.0", {"description": "typed by hand"}, actor="alice")
    registry.create_release("alice", "hostile", "2.0", {}, actor="alice")
    _upload(registry, "1.0", "hostile-1.0.tar.gz", CORE)
    _upload(registry, "2.0", "hostile-2.0.tar.gz", dict(CORE, version="2.0", description="two",
                                                      home_page=None, project_urls=None))
    pkg = registry.get_package("alice", "hostile", False)
    assert pkg["license"] == "Proprietary" and pkg["summary"] == "Mine"
    assert pkg["description"] == "two" and pkg["home"] is None
    assert registry.get_release("alice", "hostile", "1.0")["description"] == "typed by hand"
    assert registry.get_release("alice", "hostile", "2.0")["description"] == "two"


def test_conda_files_and_files_without_core_metadata_change_nothing(registry):
    _twine_like_package(registry)
    registry.create_release("alice", "hostile", "1.0", {}, actor="alice")
    _upload(registry, "1.0", "hostile-1.0.tar.gz", {})
    pkg = registry.get_package("alice", "hostile", False)
    assert pkg["license"] is None and pkg["public_attrs"] == {"summary": "", "package_types": ["pypi"],
                                                              "home": None, "license": None}


def test_anaconda_clients_empty_license_object_keeps_its_shape(registry):
    """anaconda-client creates a package with ``license: {name: null, url: null, family: null}``."""
    registry.create_package("alice", "hostile", public=True, actor="alice", public_attrs={
        "summary": "s", "license": {"name": None, "url": None, "family": None}})
    registry.create_release("alice", "hostile", "1.0", {}, actor="alice")
    _upload(registry, "1.0", "hostile-1.0-py3-none-any.whl", CORE)
    assert registry.get_package("alice", "hostile", False)["license"] == {"name": "MIT", "url": None,
                                                                          "family": None}
