"""deploy/compose/compose.yaml: validated offline against the official Compose JSON Schema
(vendored, see compose-spec.SOURCE.md), plus our own invariants. No Docker engine needed."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735"

INFRA = {"nats", "postgres", "redis"}
MARATRON_SERVICES = {"runs", "context", "insights"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svcs: dict[str, dict[str, Any]] = compose["services"]
    return svcs


def long_running(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that `up` starts and keeps running (no profile, not a one-shot)."""
    return {
        name: svc
        for name, svc in services(compose).items()
        if not svc.get("profiles") and svc.get("restart") != "no"
    }


def gateways(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in long_running(compose).items()
        if svc.get("build", {}).get("dockerfile") == "services/mcp-gateway/Dockerfile"
    }


def test_vendored_schema_is_the_recorded_one() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert SCHEMA_SHA256 in Path(__file__).with_name("compose-spec.SOURCE.md").read_text()


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["services"]["runs"].update(healthcheck={"tset": ["CMD", "true"]}),
        lambda c: c["services"]["gateway-1"].update(depends_on={"nats": {"condition": "up"}}),
        lambda c: c.update(servicez={}),
    ],
    ids=["misspelt-healthcheck-key", "bad-depends-on-condition", "unknown-top-level-key"],
)
def test_schema_rejects_broken_files(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator, mutate: Any
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert list(validator.iter_errors(broken)), "the schema should have rejected this file"


def test_two_gateway_replicas_behind_nginx_round_robin(compose: dict[str, Any]) -> None:
    gws = gateways(compose)
    assert len(gws) >= 2, f"expected at least two gateway replicas, got {sorted(gws)}"
    replica_ids = {svc["environment"]["MARATRON_REPLICA_ID"] for svc in gws.values()}
    assert len(replica_ids) == len(gws), "each gateway replica needs its own MARATRON_REPLICA_ID"

    lb = services(compose)["lb"]
    assert lb["image"].startswith("nginx")
    assert lb.get("ports"), "the load balancer publishes the MCP port"
    for name in gws:
        assert lb["depends_on"][name]["condition"] == "service_healthy"
    mounted = [v.split(":")[0] for v in lb["volumes"]]
    assert "./nginx.conf" in mounted

    conf = (COMPOSE_DIR / "nginx.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", code, re.S)
    assert upstream, "nginx.conf has no upstream block"
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream.group(2), re.M))
    assert servers == {(name, "8000") for name in gws}
    for other_policy in ("ip_hash", "hash ", "least_conn", "random", "sticky"):
        assert other_policy not in upstream.group(2), f"not round-robin: {other_policy}"
    assert re.search(rf"proxy_pass\s+http://{upstream.group(1)}\s*;", code)
    assert re.search(r"proxy_buffering\s+off\s*;", code)
    assert re.search(r"proxy_set_header\s+Authorization\s+\$http_authorization\s*;", code)
    assert re.search(r"listen\s+8080\s*;", code)
    assert any(p.endswith(":8080") for p in lb["ports"])


def test_healthchecks_everywhere(compose: dict[str, Any]) -> None:
    for name, svc in long_running(compose).items():
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"
    for name in MARATRON_SERVICES | set(gateways(compose)):
        probe = " ".join(services(compose)[name]["healthcheck"]["test"])
        assert "/healthz" in probe, f"{name} healthcheck should hit /healthz"


def test_depends_on_uses_conditions(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on should state conditions"
        for dep, spec in deps.items():
            assert dep in svcs, f"{name} depends on unknown {dep}"
            assert spec["condition"] in {"service_healthy", "service_completed_successfully"}
            if spec["condition"] == "service_healthy":
                assert not svcs[dep].get("healthcheck", {}).get("disable"), (name, dep)
    for name in MARATRON_SERVICES:
        deps = svcs[name]["depends_on"]
        assert all(deps[i]["condition"] == "service_healthy" for i in INFRA), name
    for name, gw in gateways(compose).items():
        deps = gw["depends_on"]
        assert deps["keygen"]["condition"] == "service_completed_successfully", name
        assert {"nats", "redis"} <= set(deps), name


def test_nats_jetstream_and_postgres_have_volumes(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    named = set(compose.get("volumes", {}))

    nats = svcs["nats"]
    cmd = nats["command"]
    assert "-js" in cmd
    store_dir = cmd[cmd.index("-sd") + 1]
    assert f"nats-data:{store_dir}" in nats["volumes"]

    pg = svcs["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert "postgres-data:/var/lib/postgresql/data" in pg["volumes"]
    assert {"nats-data", "postgres-data"} <= named


def test_maratron_containers_are_hardened_and_configured(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    for name in MARATRON_SERVICES | set(gateways(compose)):
        svc = svcs[name]
        assert svc.get("read_only") is True, name
        assert svc.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
        env = svc["environment"]
        for var in ("NATS_URL", "REDIS_URL", "MARATRON_NAMESPACE"):
            assert env.get(var), f"{name} lacks {var}"
        build = svc["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).is_file()
    for name in MARATRON_SERVICES:
        env = svcs[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        port = env["MARATRON_METRICS_PORT"]
        assert f":{port}/healthz" in " ".join(svcs[name]["healthcheck"]["test"]), name


def test_gateways_read_the_dev_signing_key(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    keygen = svcs["keygen"]
    assert "keygen" in keygen["command"]
    key_volume = next(v for v in keygen["volumes"] if v.endswith(":/keys")).split(":")[0]
    assert key_volume in compose["volumes"]
    for name, gw in gateways(compose).items():
        key_file = gw["environment"]["MARATRON_JWT_PUBLIC_KEY_FILE"]
        mounts = [v.split(":") for v in gw["volumes"]]
        assert any(
            src == key_volume and key_file.startswith(dst + "/") and rest == ["ro"]
            for src, dst, *rest in mounts
        ), f"{name}: {key_file} is not on the read-only signing-key volume"
        for var in ("MARATRON_JWT_ISSUER", "MARATRON_JWT_AUDIENCE"):
            assert gw["environment"][var], name
        assert gw["environment"]["MARATRON_GATEWAY_HOST"] == "0.0.0.0", name
    token = svcs["token"]
    assert token["profiles"] == ["tools"]
    for svc in (keygen, token):
        helper = next(v for v in svc["volumes"] if "devkeys.py" in v).split(":")[0]
        assert (COMPOSE_DIR / helper).is_file()
