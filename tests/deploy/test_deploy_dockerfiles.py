"""Static checks of the service Dockerfiles and the root .dockerignore (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent for p in (REPO / "services").glob("*/pyproject.toml"))

# The port variable each image's HEALTHCHECK must probe.
PORT_ENV = {"mcp-gateway": "MARATRON_GATEWAY_PORT"}
DEFAULT_PORT_ENV = "MARATRON_METRICS_PORT"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of (KEYWORD, arguments), continuation lines joined."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "dangling line continuation at end of file"

    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, f"unparsable FROM: {rest}"
            stages.append(Stage(base=m.group(1), name=m.group(2)))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages


def package_info(service_dir: Path) -> tuple[str, str]:
    """(distribution name, import name) of a service package."""
    name = tomllib.loads((service_dir / "pyproject.toml").read_text())["project"]["name"]
    modules = [p.name for p in (service_dir / "src").iterdir() if (p / "__init__.py").exists()]
    assert len(modules) == 1, f"{service_dir}: expected one package under src/, got {modules}"
    return name, modules[0]


def test_every_service_has_a_dockerfile() -> None:
    assert {p.name for p in SERVICES} >= {"mcp-gateway", "runs", "context", "insights"}
    missing = [p.name for p in SERVICES if not (p / "Dockerfile").is_file()]
    assert not missing, f"services without a Dockerfile: {missing}"


def test_parser_handles_continuations_and_stages() -> None:
    stages = parse_dockerfile(
        "# c\nFROM a:1 AS b\nRUN x \\\n  # inner comment\n  && y\nFROM c\nUSER 1\n"
    )
    assert [(s.base, s.name) for s in stages] == [("a:1", "b"), ("c", None)]
    assert stages[0].instructions == [("RUN", "x && y")]
    assert stages[1].args("USER") == ["1"]


@pytest.fixture(params=[p.name for p in SERVICES])
def service(request: pytest.FixtureRequest) -> tuple[Path, list[Stage]]:
    service_dir = REPO / "services" / request.param
    return service_dir, parse_dockerfile((service_dir / "Dockerfile").read_text())


def test_multi_stage_with_slim_runtime(service: tuple[Path, list[Stage]]) -> None:
    _, stages = service
    assert len(stages) >= 2, "expected a builder stage and a runtime stage"
    assert stages[-1].base == "python:3.11-slim"
    builder_names = {s.name for s in stages[:-1]}
    copies = stages[-1].args("COPY")
    sources = {m.group(1) for c in copies if (m := re.search(r"--from=(\S+)", c))}
    assert sources & builder_names, "the runtime stage must copy its venv from a builder stage"
    assert any("/app/.venv" in c for c in copies)


def test_builder_uses_locked_uv_sync_without_dev(service: tuple[Path, list[Stage]]) -> None:
    service_dir, stages = service
    dist, _ = package_info(service_dir)
    builder_runs = [r for s in stages[:-1] for r in s.args("RUN")]
    assert any(re.search(r"pip install .*\buv\b", r) for r in builder_runs), "pip install uv"
    syncs = [r for r in builder_runs if "uv sync" in r]
    assert len(syncs) == 1, syncs
    sync = syncs[0]
    for flag in ("--frozen", "--no-dev", f"--package {dist}"):
        assert flag in sync, f"`uv sync` lacks {flag}: {sync}"
    assert "--all-packages" not in sync and "--group" not in sync and "--all-groups" not in sync
    envs = " ".join(a for s in stages[:-1] for a in s.args("ENV"))
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in envs
    # Nothing is installed in the runtime stage: no tooling, no dev dependencies.
    runtime_runs = " ".join(stages[-1].args("RUN"))
    assert "uv " not in runtime_runs and "pip install" not in runtime_runs


def test_runtime_runs_as_non_root(service: tuple[Path, list[Stage]]) -> None:
    _, stages = service
    users = stages[-1].args("USER")
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"runtime USER is {users[-1]}"
    # Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
    assert user.isdigit()


def test_healthcheck_probes_healthz_with_python(service: tuple[Path, list[Stage]]) -> None:
    service_dir, stages = service
    checks = stages[-1].args("HEALTHCHECK")
    assert len(checks) == 1, checks
    options, _, command = checks[0].partition("CMD ")
    for opt in ("--interval=", "--timeout=", "--retries="):
        assert opt in options
    argv = json.loads(command)  # exec form
    assert argv[0] == "python" and argv[1] == "-c"
    assert "/healthz" in argv[2]
    assert PORT_ENV.get(service_dir.name, DEFAULT_PORT_ENV) in argv[2]
    compile(argv[2], "<healthcheck>", "exec")  # the probe is valid Python


def runtime_env(stages: list[Stage]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stages[-1].args("ENV"):
        for pair in args.split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_runtime_env_listens_where_probes_look(service: tuple[Path, list[Stage]]) -> None:
    service_dir, stages = service
    env = runtime_env(stages)
    port_env = PORT_ENV.get(service_dir.name, DEFAULT_PORT_ENV)
    # Pinned: the services' own default metrics port is 0 ("pick a free one").
    assert env.get(port_env, "").isdigit() and int(env[port_env]) > 0
    assert str(env[port_env]) in stages[-1].args("EXPOSE")
    if service_dir.name == "mcp-gateway":
        # The gateway's own default host is loopback: unreachable from outside a container.
        assert env.get("MARATRON_GATEWAY_HOST") == "0.0.0.0"
    assert env["PATH"].startswith("/app/.venv/bin:")


def test_exec_form_cmd_runs_the_service_module(service: tuple[Path, list[Stage]]) -> None:
    service_dir, stages = service
    _, module = package_info(service_dir)
    cmds = stages[-1].args("CMD")
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == ["python", "-m", module]
    assert not stages[-1].args("ENTRYPOINT")


def test_dockerignore_keeps_the_context_small() -> None:
    lines = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("**/.venv", ".git", "**/.data", "**/__pycache__"):
        assert needed in lines, f".dockerignore lacks {needed}"
    # What the builder copies must not be ignored.
    for kept in ("libs", "services", "uv.lock", "pyproject.toml"):
        assert kept not in lines
