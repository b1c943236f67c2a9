"""Core metadata of wheels and sdists (issue 15 item 19), read with ``packaging.metadata``: Metadata-Version 2.4
and 2.5 (hatchling's), License-Expression, Markdown descriptions with their content type, project URLs,
Requires-Dist; sloppy real-world files are read as far as they can be, never refused for an optional field."""
from __future__ import annotations

import pytest

from services.storage.domain.core_metadata import DESCRIPTION_LIMIT, LIST_LIMIT, TEXT_LIMITS
from tests.helpers.packages import DELETE, make_sdist, make_wheel

from .conftest import stage

README = "# Hostile\n\nA *Markdown* description with `code`.\n\n- one\n- two\n"
HATCHLING = {"Metadata-Version": "2.4", "License-Expression": "mit", "License-File": "LICENSE",
             "Description-Content-Type": "text/markdown",
             "Project-URL": ["Homepage, https://example.org/hostile", "Source, https://example.org/src"],
             "Classifier": ["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"]}


def _finalize(storage, path) -> dict:
    stage(storage, "d", path)
    return storage.finalize("d", "alice", "hostile", "1.0", path.name, "pypi")["metadata"]


@pytest.mark.parametrize("metadata_version", ["2.4", "2.5"])
def test_hatchling_wheel_keeps_license_description_and_urls(storage, pkgdir, metadata_version):
    path = make_wheel(pkgdir, "hostile", "1.0", requires_python=">=3.9",
                      requires=["requests>=2", "rich; extra == 'cli'"], description=README,
                      metadata_overrides=dict(HATCHLING, **{"Metadata-Version": metadata_version}))
    md = _finalize(storage, path)
    assert md["metadata_version"] == metadata_version
    assert md["license"] == "MIT" and md["license_expression"] == "MIT"      # normalized SPDX
    assert md["description"] == README and md["description_content_type"] == "text/markdown"
    assert md["summary"] == "A test package"
    assert md["home_page"] == "https://example.org/hostile"
    assert md["project_urls"] == {"Homepage": "https://example.org/hostile", "Source": "https://example.org/src"}
    assert md["requires_dist"] == ["requests>=2", "rich; extra == 'cli'"] and md["requires_python"] == ">=3.9"
    assert md["classifiers"][1] == "License :: OSI Approved :: MIT License"
    assert "problems" not in md


def test_license_falls_back_to_license_then_classifiers(storage, pkgdir):
    path = make_wheel(pkgdir, "hostile", "1.0", metadata_overrides={"License": "BSD-3-Clause"})
    assert _finalize(storage, path)["license"] == "BSD-3-Clause"
    path = make_wheel(pkgdir / "b", "hostile", "1.0", metadata_overrides={
        "Classifier": ["License :: OSI Approved :: Apache Software License", "License :: OSI Approved"]})
    assert _finalize(storage, path)["license"] == "Apache Software License"
    # a License field holding a whole license text (old setuptools): its classifier, else its first line
    text = "MIT License\n        \n        Copyright (c) 2020 Someone\n        Permission is hereby granted"
    path = make_wheel(pkgdir / "c", "hostile", "1.0", metadata_overrides={"License": text})
    assert _finalize(storage, path)["license"] == "MIT License"


def test_sdist_metadata_2_4(storage, pkgdir):
    path = make_sdist(pkgdir, "hostile", "1.0", pkg_info_overrides={
        "Metadata-Version": "2.4", "License-Expression": "Apache-2.0 OR MIT",
        "Description-Content-Type": "text/x-rst"})
    md = _finalize(storage, path)
    assert md["license"] == "Apache-2.0 OR MIT" and md["description_content_type"] == "text/x-rst"
    assert md["description"] == "hostile 1.0 long description\n"


SLOPPY = [
    ({"Summary": "two\n        lines"}, None, lambda md: md["summary"] == "two lines"),
    ({"Requires-Dist": ["ok>=1", "bad >>>= 1"]}, None,
     lambda md: md["requires_dist"] == ["ok>=1"] and "bad >>>= 1" in md["problems"][0]),
    ({"Requires-Python": ">=3.x"}, None, lambda md: md["requires_python"] is None and md["problems"]),
    ({"Metadata-Version": "2.1", "License-Expression": "MIT"}, None, lambda md: md["license"] == "MIT"),
    ({"Metadata-Version": "9.9"}, None, lambda md: md["metadata_version"] == "9.9" and md["name"] == "hostile"),
    ({"License-Expression": "MIT OR Nonsense-License"}, None,
     lambda md: md["license"] == "MIT OR Nonsense-License" and md["problems"]),
    ({"Description-Content-Type": "text/html"}, None,
     lambda md: md["description_content_type"] is None and md["description"] and md["problems"]),
    ({}, "caf\xe9 ".encode("latin-1") + b"not utf-8\n",
     lambda md: md["description"].startswith("caf\ufffd") and md["name"] == "hostile"),
    ({"Summary": DELETE}, "", lambda md: md["summary"] is None and md["description"] is None),
]


@pytest.mark.parametrize("overrides,body,check", SLOPPY, ids=[
    "multiline-summary", "bad-requirement", "bad-requires-python", "field-newer-than-version", "unknown-version",
    "unknown-spdx-id", "unknown-content-type", "not-utf8-body", "nothing-optional"])
def test_sloppy_metadata_is_read_as_far_as_it_goes(storage, pkgdir, overrides, body, check):
    path = make_wheel(pkgdir, "hostile", "1.0", metadata_overrides=overrides, description=body)
    md = _finalize(storage, path)
    assert check(md), md


def test_long_description_is_cut(storage, pkgdir):
    path = make_wheel(pkgdir, "hostile", "1.0", description="x" * (DESCRIPTION_LIMIT + 10))
    md = _finalize(storage, path)
    assert len(md["description"]) == DESCRIPTION_LIMIT and md["description_truncated"] is True


def test_fields_are_cut_to_what_the_api_would_take(storage, pkgdir):
    """Filled attributes must be ones a client could set through the API (and send back unchanged)."""
    path = make_wheel(pkgdir, "hostile", "1.0", metadata_overrides={
        "Summary": "s" * 5000, "Home-page": "https://example.org/" + "h" * 5000,
        "Classifier": [f"Topic :: T{i}" for i in range(LIST_LIMIT + 5)]})
    md = _finalize(storage, path)
    assert len(md["summary"]) == TEXT_LIMITS["summary"] and len(md["home_page"]) == TEXT_LIMITS["home_page"]
    assert len(md["classifiers"]) == LIST_LIMIT and len(md["problems"]) == 3
