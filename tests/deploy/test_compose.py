"""docker-compose.yml against the compose-spec JSON schema, and what it must say: every Wharf service from one
image, health-gated start-up, the gateway's port, the secret that must be provided."""
from __future__ import annotations

import copy
import re

import pytest

from services.kernel.settings import Settings

from . import compose_check as cc
from .repo_facts import architecture_services, settings_env_names

INFRA = {"postgres": "postgres:16", "rabbitmq": "rabbitmq:3-management", "minio": "minio/minio"}
WHARF = ("auth", "registry", "storage", "indexer", "gateway")
DB_OF = {"auth": "WHARF_AUTH_DB_URL", "registry": "WHARF_REGISTRY_DB_URL", "indexer": "WHARF_INDEXER_DB_URL"}
ENV = {"WHARF_SECRET_KEY": "0123456789abcdef" * 4}


@pytest.fixture(scope="module")
def raw():
    return cc.load()


@pytest.fixture(scope="module")
def compose(raw):
    return cc.interpolate(raw, ENV)


def test_schema_valid_as_written_and_interpolated(raw, compose):
    assert cc.schema_errors(raw) == []
    assert cc.schema_errors(compose) == []


BREAKAGES = {
    "unknown service key": lambda c: c["services"]["gateway"].update(comand=["run", "gateway"]),
    "bad depends_on condition": lambda c: c["services"]["gateway"]["depends_on"]["auth"].update(
        condition="healthy"),
    "healthcheck test is a number": lambda c: c["services"]["postgres"]["healthcheck"].update(test=5),
    "unknown healthcheck key": lambda c: c["services"]["postgres"]["healthcheck"].update(retry=3),
    "command is a mapping": lambda c: c["services"]["auth"].update(command={"run": "auth"}),
    "unknown top-level key": lambda c: c.update(service={}),
    "volumes is a mapping of nonsense": lambda c: c["services"]["minio"].update(volumes={"a": 1}),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_copy_is_rejected(compose, name):
    broken = copy.deepcopy(compose)
    BREAKAGES[name](broken)
    assert cc.schema_errors(broken), f"{name} passed the compose-spec schema"


def test_every_service_is_there(compose):
    names = set(compose["services"])
    assert set(architecture_services()) <= names
    assert set(WHARF) | set(INFRA) <= names
    for name, image in INFRA.items():
        assert compose["services"][name]["image"].startswith(image)


def test_wharf_services_share_one_image_and_run_their_service(compose):
    images = {compose["services"][s]["image"] for s in WHARF}
    assert images == {"wharf:local"}
    for svc in WHARF:
        s = compose["services"][svc]
        assert s["command"] == ["run", svc]
        assert "entrypoint" not in s
        assert s["build"]["context"] == "."
        assert s["read_only"] is True and "/tmp" in s["tmpfs"]


def test_healthchecks_everywhere_that_runs(compose):
    for name, s in compose["services"].items():
        if s.get("restart") == "no":
            continue  # one-shot
        test = s.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    for svc in WHARF:
        # readiness: the service's database / RabbitMQ / S3, then the service itself (cli.cmd_health)
        assert compose["services"][svc]["healthcheck"]["test"] == ["CMD", "wharf", "health", svc]
    pg = compose["services"]["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in pg and "127.0.0.1" in pg, "pg_isready must use TCP (ready only after init scripts)"


def test_depends_on_waits_for_health(compose):
    services = compose["services"]
    for name, s in services.items():
        for dep, spec in cc.depends_on(s).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if services[dep].get("restart") == "no" \
                else "service_healthy"
            assert spec["condition"] == expected, (name, dep)
    for svc in WHARF:
        deps = set(cc.depends_on(services[svc]))
        assert "rabbitmq" in deps, svc
        if svc in DB_OF:
            assert "postgres" in deps, svc
        if svc in ("storage", "indexer"):
            assert {"minio", "createbuckets"} <= deps, svc
    assert set(WHARF[:-1]) <= set(cc.depends_on(services["gateway"]))


def test_migrations_run_once_before_the_services_that_own_databases(compose):
    services = compose["services"]
    mig = services["migrate"]
    assert mig["command"] == ["migrate", "all"] and mig["restart"] == "no"
    assert mig["image"] == services["auth"]["image"] and "healthcheck" not in mig
    assert cc.depends_on(mig) == {"postgres": {"condition": "service_healthy"}}
    env = cc.environment(mig)
    for svc, key in DB_OF.items():
        assert env[key] == cc.environment(services[svc])[key]
        assert cc.depends_on(services[svc])["migrate"] == {"condition": "service_completed_successfully"}
    for svc in WHARF:
        assert cc.environment(services[svc])["WHARF_AUTO_MIGRATE"] == "false", svc
    assert "migrate" not in cc.depends_on(services["storage"]), "storage has no database"


def test_depends_on_has_no_cycle(compose):
    graph = {n: set(cc.depends_on(s)) for n, s in compose["services"].items()}
    done: set[str] = set()

    def visit(node, path):
        assert node not in path, f"cycle: {path + [node]}"
        if node not in done:
            for dep in graph[node]:
                visit(dep, path + [node])
            done.add(node)
    for node in graph:
        visit(node, [])


def test_gateway_publishes_8080(compose):
    ports = compose["services"]["gateway"]["ports"]
    assert any(str(p).split(":")[-1] == "8080" for p in ports)
    for svc in WHARF[:-1]:
        assert "ports" not in compose["services"][svc], f"{svc} talks over RabbitMQ only"


def test_secret_key_is_required(raw):
    with pytest.raises(cc.InterpolationError, match="WHARF_SECRET_KEY"):
        cc.interpolate(raw, {})
    with pytest.raises(cc.InterpolationError, match="WHARF_SECRET_KEY"):
        cc.interpolate(raw, {"WHARF_SECRET_KEY": ""})


def test_documented_defaults_and_overrides(raw, compose):
    env = cc.environment(compose["services"]["storage"])
    assert env["WHARF_SECRET_KEY"] == ENV["WHARF_SECRET_KEY"]
    assert env["WHARF_PUBLIC_URL"] == "http://localhost:8080"
    assert env["WHARF_S3_PUBLIC_ENDPOINT"] == "localhost:9000"
    assert env["WHARF_S3_ENDPOINT"] == "minio:9000"
    assert env["WHARF_AMQP_URI"] == "amqp://wharf:wharf@rabbitmq:5672/"
    custom = cc.interpolate(raw, dict(ENV, RABBITMQ_PASSWORD="s3cret", WHARF_PUBLIC_URL="https://w.example"))
    env = cc.environment(custom["services"]["gateway"])
    assert env["WHARF_AMQP_URI"] == "amqp://wharf:s3cret@rabbitmq:5672/"
    assert env["WHARF_PUBLIC_URL"] == "https://w.example"
    # $$ stays a literal $ for the container's shell
    assert "$MINIO_ROOT_USER" in compose["services"]["createbuckets"]["command"][0]


def test_wharf_environment(compose):
    read = settings_env_names()
    for svc in WHARF:
        env = cc.environment(compose["services"][svc])
        assert set(env) <= read, f"{svc}: {set(env) - read} not read by Settings.from_env"
        assert env["WHARF_MODE"] == "distributed" and env["WHARF_BLOB_BACKEND"] == "s3"
        dbs = {key for key in env if key.endswith("_DB_URL")}
        assert dbs == ({DB_OF[svc]} if svc in DB_OF else set()), svc
        Settings.from_env(env)  # the values parse (booleans, integers)


def test_database_urls_name_the_databases_the_init_script_creates(compose):
    sql = (cc.ROOT / "deploy/postgres-init/01-wharf-databases.sql").read_text()
    created = set(re.findall(r"'CREATE DATABASE (\w+)'", sql))
    assert created == {"wharf_auth", "wharf_registry", "wharf_indexer"}
    named = {cc.environment(compose["services"][s])[key].rsplit("/", 1)[1] for s, key in DB_OF.items()}
    assert named == created
    pg = compose["services"]["postgres"]
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in pg["volumes"]
    assert pg["image"] == "postgres:16"


def test_interpolation_rejects_malformed_references():
    with pytest.raises(cc.InterpolationError):
        cc.interpolate_str("${NOT VALID}", {})
    assert cc.interpolate_str("a${X-def}b$$c${Y:+set}", {"Y": "1"}) == "adefb$cset"
