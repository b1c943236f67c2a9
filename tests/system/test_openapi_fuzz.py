"""Fuzzing ``/api`` with schemathesis against an embedded Wharf over real HTTP: the OpenAPI document the gateway
serves (``/api/openapi.json``, apispec + marshmallow) is the contract; for every operation schemathesis
generates requests (valid and invalid) and each response must be no 5xx, a documented status code, a
documented content type, and a body matching the documented schema. Examples per operation are bounded
(``WHARF_FUZZ_EXAMPLES``, default 50) so the run takes a few minutes at most."""
from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from tests.conftest import free_port
from tests.helpers.packages import make_conda_package

from .api_upload import Uploader, login
from .harness import start_embedded

pytestmark = pytest.mark.system

EXAMPLES = int(os.environ.get("WHARF_FUZZ_EXAMPLES", "50"))


@pytest.fixture(scope="module")
def fuzz_wharf(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wharf-fuzz")
    w = start_embedded(workdir, free_port(), {"WHARF_LOGIN_RATE_ACCOUNT": "100000",
                                              "WHARF_LOGIN_RATE_ADDRESS": "100000"})
    w.cli("user", "create", "fuzz", "--password", "fuzz-pw-123")
    w.cli("org", "create", "fuzzorg", "--owner", "fuzz")
    token = login(w.base_url, "fuzz", "fuzz-pw-123")
    pkg = make_conda_package(workdir / "pkgs", "fuzzpkg", "1.0", subdir="noarch", fmt=".conda")
    assert Uploader(w.base_url, token).upload("fuzz", "fuzzpkg", "1.0", pkg, subdir="noarch").status_code == 200
    w.token = token
    yield w
    w.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_wharf):
    return schemathesis.openapi.from_url(fuzz_wharf.base_url + "/api/openapi.json")


def test_the_document_lists_the_api(fuzz_wharf):
    doc = requests.get(fuzz_wharf.base_url + "/api/openapi.json", timeout=30).json()
    assert doc["openapi"].startswith("3.")
    ops = {(p, m) for p, item in doc["paths"].items() for m in item}
    for needed in [("/api/authentications", "post"), ("/api/stage/{owner}/{package}/{version}/{basename}", "post"),
                   ("/api/package/{owner}/{package}", "delete"), ("/api/channels/{owner}/{label}", "post")]:
        assert needed in ops
    assert "StageBody" in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["StageBody"]["required"] == ["distribution_type"]


def test_api_conforms_and_never_fails(api_schema, fuzz_wharf):
    """Every operation, ``EXAMPLES`` generated requests each (schemathesis's pytest plugin does not run on
    pytest 9, so the operations are driven through its strategies directly); all failures are collected."""
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    operations, calls, statuses = 0, [0], {}
    for result in api_schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case):
            headers = {"Authorization": f"token {fuzz_wharf.token}"}
            if case.path == "/api/authentications" and case.method == "DELETE":
                headers = {}          # would revoke the fuzzing token itself
            calls[0] += 1
            resp = case.call_and_validate(base_url=fuzz_wharf.base_url, headers=headers, timeout=60,
                                          checks=checks)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect, report all at the end
            failures[f"{op.method.upper()} {op.path}"] = str(exc)[:1500]
    print(f"fuzzed {operations} operations with {calls[0]} requests; statuses {sorted(statuses.items())}")
    assert operations >= 30 and calls[0] >= operations
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
