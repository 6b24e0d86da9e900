"""deploy/k8s: both overlays render with `kubectl kustomize`, every object passes offline schema
validation (kubernetes-validate), and our own invariants hold. No cluster needed."""

from __future__ import annotations

import base64
import copy
import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]
# Oldest Kubernetes we support (PodDisruptionBudget v1, HPA v2, restricted PSA) and the newest
# schema kubernetes-validate ships.
K8S_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
DNS_PORT = 53
NATS, POSTGRES, REDIS = 4222, 5432, 6379
GATEWAY_HTTP, METRICS = 8000, 9100
SERVICES = {"runs", "context", "insights"}

Obj = dict[str, Any]


# --------------------------------------------------------------------------- rendering


def renderer() -> list[str] | None:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    return None


@functools.cache
def _render(overlay: str) -> tuple[Obj, ...]:
    cmd = renderer()
    if cmd is None:
        pytest.skip(
            "neither kubectl nor kustomize is on PATH: install kubectl (it bundles kustomize) "
            "to render and check deploy/k8s"
        )
    proc = subprocess.run(
        [*cmd, str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"kustomize failed for {overlay}:\n{proc.stderr}"
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def render(overlay: str) -> list[Obj]:
    return copy.deepcopy(list(_render(overlay)))


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def objs(overlay: str) -> list[Obj]:
    return render(overlay)


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def by_name(objs: list[Obj], kind: str, name: str) -> Obj:
    matches = [o for o in of_kind(objs, kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_template(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Obj = spec["template"]
    return template


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = pod_template(workload)["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in WORKLOAD_KINDS]


def containers(workload: Obj) -> Iterator[Obj]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def config_data(objs: list[Obj]) -> dict[str, str]:
    found = [
        c for c in of_kind(objs, "ConfigMap") if c["metadata"]["name"].startswith("maratron-config")
    ]
    assert len(found) == 1
    data: dict[str, str] = found[0]["data"]
    return data


def secret_values(objs: list[Obj], name_prefix: str) -> dict[str, str]:
    found = [s for s in of_kind(objs, "Secret") if s["metadata"]["name"].startswith(name_prefix)]
    assert len(found) == 1, name_prefix
    secret = found[0]
    values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    values.update(secret.get("stringData", {}))
    return values


def test_missing_kubectl_skips_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    _render.cache_clear()
    try:
        with pytest.raises(pytest.skip.Exception, match="kubectl"):
            _render("dev")
    finally:
        _render.cache_clear()


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_schema_validation(objs: list[Obj], version: str) -> None:
    assert objs
    failures = []
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {e.json_path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {e.message}")
    assert not failures, "\n".join(failures)


def test_schema_validation_catches_mistakes() -> None:
    deployment = copy.deepcopy(by_name(render("dev"), "Deployment", "gateway"))
    pod_spec(deployment)["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    deployment = copy.deepcopy(by_name(render("dev"), "Deployment", "gateway"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


# --------------------------------------------------------------------------- containers


def test_every_container_has_probes_limits_and_restricted_security(objs: list[Obj]) -> None:
    problems = []
    for wl in workloads(objs):
        spec = pod_spec(wl)
        pod_sc = spec.get("securityContext", {})
        where = f"{wl['kind']}/{wl['metadata']['name']}"
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: service account token mounted")
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                problems.append(f"{where}: {field}")
        for c in containers(wl):
            at = f"{where}/{c['name']}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe not in c:
                    problems.append(f"{at}: no {probe}")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        problems.append(f"{at}: no {kind}.{r}")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: readOnlyRootFilesystem not true")
            if sc.get("privileged"):
                problems.append(f"{at}: privileged")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{at}: capabilities not drop [ALL]")
            if sc.get("capabilities", {}).get("add"):
                problems.append(f"{at}: adds capabilities")
            if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
                problems.append(f"{at}: runAsNonRoot not set")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
                problems.append(f"{at}: runs as uid 0")
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{at}: seccompProfile not RuntimeDefault")
    assert not problems, "\n".join(problems)


def test_probes_target_declared_ports(objs: list[Obj]) -> None:
    for wl in workloads(objs):
        for c in containers(wl):
            ports = {p.get("name") for p in c.get("ports", [])} | {
                p["containerPort"] for p in c.get("ports", [])
            }
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                http = c[probe].get("httpGet")
                if http:
                    assert http["port"] in ports, f"{wl['metadata']['name']} {probe} {http}"


def test_deployments_drain_gracefully(objs: list[Obj]) -> None:
    for dep in of_kind(objs, "Deployment"):
        spec = pod_spec(dep)
        grace = spec["terminationGracePeriodSeconds"]
        for c in spec["containers"]:
            pre_stop = c.get("lifecycle", {}).get("preStop")
            assert pre_stop, f"{dep['metadata']['name']}: no preStop hook"
            if "sleep" in pre_stop:
                delay = int(pre_stop["sleep"]["seconds"])
            else:
                command = pre_stop["exec"]["command"]
                assert command[0] == "sleep", command
                delay = int(command[1])
            assert grace >= delay + 20, f"{dep['metadata']['name']}: grace {grace}s too short"
            drain = float(config_data(objs)["MARATRON_SHUTDOWN_GRACE_S"])
            assert grace >= delay + drain + 5, f"{dep['metadata']['name']}: no time to drain"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# --------------------------------------------------------------------------- availability


def test_every_deployment_has_a_pdb_and_an_hpa(objs: list[Obj]) -> None:
    deployments = of_kind(objs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {"gateway", *SERVICES}
    pdbs = of_kind(objs, "PodDisruptionBudget")
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    for dep in deployments:
        name = dep["metadata"]["name"]
        labels = pod_labels(dep)
        covering = [p for p in pdbs if matches(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        pdb = covering[0]["spec"]
        # A PDB that can never be satisfied would block node drains forever.
        if "minAvailable" in pdb:
            assert int(pdb["minAvailable"]) < dep["spec"]["replicas"], name
        else:
            assert pdb["maxUnavailable"] not in (0, "0%"), name
        scalers = [
            h
            for h in hpas
            if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            and h["spec"]["scaleTargetRef"]["name"] == name
        ]
        assert len(scalers) == 1, f"{name}: {len(scalers)} HPAs"
        hpa = scalers[0]["spec"]
        assert 1 <= hpa["minReplicas"] <= dep["spec"]["replicas"] <= hpa["maxReplicas"], name
        assert hpa["metrics"], name


def test_pod_selectors_are_consistent(objs: list[Obj]) -> None:
    for wl in workloads(objs):
        assert matches(wl["spec"]["selector"], pod_labels(wl)), wl["metadata"]["name"]
    pods = [pod_labels(w) for w in workloads(objs)]
    for svc in of_kind(objs, "Service"):
        selector = {"matchLabels": svc["spec"]["selector"]}
        assert any(matches(selector, p) for p in pods), f"Service {svc['metadata']['name']}"


# --------------------------------------------------------------------------- network policies


def policies(objs: list[Obj]) -> list[Obj]:
    return of_kind(objs, "NetworkPolicy")


def selected(policy: Obj, labels: dict[str, str]) -> bool:
    return matches(policy["spec"]["podSelector"], labels)


def rule_ports(rule: Obj) -> set[int]:
    ports = {p["port"] for p in rule.get("ports", [])}
    assert all(isinstance(p, int) for p in ports), f"use numeric ports in policies: {ports}"
    return ports


def allowed_egress_ports(objs: list[Obj], labels: dict[str, str]) -> set[int]:
    ports: set[int] = set()
    for pol in policies(objs):
        if selected(pol, labels) and "Egress" in pol["spec"]["policyTypes"]:
            for rule in pol["spec"].get("egress", []):
                assert rule.get("ports"), f"{pol['metadata']['name']}: egress to any port"
                assert rule.get("to"), f"{pol['metadata']['name']}: egress to anywhere"
                ports |= rule_ports(rule)
    return ports


def test_default_deny_covers_every_pod(objs: list[Obj]) -> None:
    deny = [
        p
        for p in policies(objs)
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1, "expected one default-deny-all policy"
    for wl in workloads(objs):
        labels = pod_labels(wl)
        name = wl["metadata"]["name"]
        # Beyond the deny-all: every pod that listens is reachable only through an explicit
        # allow, and every pod can resolve names.
        allows_in = [p for p in policies(objs) if selected(p, labels) and p["spec"].get("ingress")]
        assert allows_in, f"{name}: no ingress allowed at all (unreachable)"
        assert DNS_PORT in allowed_egress_ports(objs, labels), f"{name}: no DNS"


def test_only_the_gateway_is_reachable_from_outside(objs: list[Obj]) -> None:
    for pol in policies(objs):
        name = pol["metadata"]["name"]
        for rule in pol["spec"].get("ingress", []):
            assert rule.get("from"), f"{name}: ingress from anywhere"
            assert rule.get("ports"), f"{name}: ingress on every port"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, f"{name}: ingress from an IP block"
                if "namespaceSelector" not in peer:
                    continue  # same-namespace pods
                ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                targets = pol["spec"]["podSelector"]
                if ns == "ingress-nginx":
                    assert targets == {"matchLabels": {"app.kubernetes.io/name": "gateway"}}
                    assert rule_ports(rule) == {GATEWAY_HTTP}
                elif ns == "monitoring":  # Prometheus scrapes metrics only
                    assert rule_ports(rule) <= {GATEWAY_HTTP, METRICS}
                else:
                    pytest.fail(f"{name}: ingress from namespace {ns}")
    ingresses = of_kind(objs, "Ingress")
    assert len(ingresses) == 1
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingresses[0]["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    annotations = ingresses[0]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"


def test_egress_is_limited_to_nats_postgres_redis(objs: list[Obj]) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(objs, "Deployment")}
    gateway = allowed_egress_ports(objs, pod_labels(deployments["gateway"]))
    assert gateway == {DNS_PORT, NATS, REDIS}, gateway
    for name in SERVICES:
        ports = allowed_egress_ports(objs, pod_labels(deployments[name]))
        assert ports == {DNS_PORT, NATS, POSTGRES, REDIS}, (name, ports)
    for sts in of_kind(objs, "StatefulSet"):  # dev infrastructure talks to nobody
        assert allowed_egress_ports(objs, pod_labels(sts)) == {DNS_PORT}


# --------------------------------------------------------------------------- config & secrets


def test_gateway_gets_no_database_credentials_and_services_get_all(objs: list[Obj]) -> None:
    for dep in of_kind(objs, "Deployment"):
        c = pod_spec(dep)["containers"][0]
        from_secret = {
            e["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert not any("secretRef" in src for src in c.get("envFrom", []))
        if dep["metadata"]["name"] == "gateway":
            assert from_secret == {"NATS_URL", "REDIS_URL"}
        else:
            assert from_secret == {"NATS_URL", "DATABASE_URL", "REDIS_URL"}


def test_config_and_jwt_key_are_wired(objs: list[Obj]) -> None:
    config = config_data(objs)
    for key in (
        "MARATRON_NAMESPACE",
        "MARATRON_OTEL_EXPORTER",
        "MARATRON_JWT_ISSUER",
        "MARATRON_JWT_AUDIENCE",
        "MARATRON_METRICS_PORT",
        "MARATRON_GATEWAY_PORT",
    ):
        assert config.get(key), key
    assert config["MARATRON_OTEL_EXPORTER"] in {"none", "console", "otlp"}
    assert config["MARATRON_GATEWAY_HOST"] == "0.0.0.0"  # its default is loopback
    gateway = by_name(objs, "Deployment", "gateway")
    spec = pod_spec(gateway)
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    key_file = config["MARATRON_JWT_PUBLIC_KEY_FILE"]
    jwt_mount = next(m for m in mounts.values() if key_file.startswith(m["mountPath"] + "/"))
    assert jwt_mount["readOnly"] is True
    secret_name = volumes[jwt_mount["name"]]["secret"]["secretName"]
    jwt_secret = by_name(objs, "Secret", secret_name)
    assert key_file.rsplit("/", 1)[1] in jwt_secret["data"]
    assert "PRIVATE KEY" not in secret_values(objs, "maratron-jwt")["jwt-public.pem"]
    # Every port the config names is the one the containers listen on.
    gw_ports = {p["containerPort"] for p in spec["containers"][0]["ports"]}
    assert int(config["MARATRON_GATEWAY_PORT"]) in gw_ports
    runs_ports = {
        p["containerPort"]
        for p in pod_spec(by_name(objs, "Deployment", "runs"))["containers"][0]["ports"]
    }
    assert int(config["MARATRON_METRICS_PORT"]) in runs_ports


def test_no_private_key_is_committed_under_deploy() -> None:
    for path in (REPO / "deploy").rglob("*"):
        if path.is_file():
            assert "PRIVATE KEY-----" not in path.read_text(errors="ignore"), path


# --------------------------------------------------------------------------- overlays


def test_dev_runs_its_own_nats_postgres_redis_with_pvcs() -> None:
    objs = render("dev")
    stateful = {s["metadata"]["name"]: s for s in of_kind(objs, "StatefulSet")}
    assert set(stateful) == {"nats", "postgres", "redis"}
    for name, sts in stateful.items():
        claims = sts["spec"].get("volumeClaimTemplates", [])
        assert claims, f"{name}: no PVC"
        mounted = {m["name"] for c in containers(sts) for m in c.get("volumeMounts", [])}
        assert {c["metadata"]["name"] for c in claims} <= mounted, name
        by_name(objs, "Service", name)
    nats_args = pod_spec(stateful["nats"])["containers"][0]["args"]
    assert "-js" in nats_args and "-sd" in nats_args
    assert pod_spec(stateful["postgres"])["containers"][0]["image"].startswith("postgres:16")
    urls = secret_values(objs, "maratron-connections")
    assert urlsplit(urls["NATS_URL"]).hostname == "nats"
    assert urlsplit(urls["DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(urls["REDIS_URL"]).hostname == "redis"
    for dep in of_kind(objs, "Deployment"):
        assert pod_spec(dep)["containers"][0]["image"].endswith(":dev")


def test_prod_uses_external_services_and_more_replicas() -> None:
    dev, prod = render("dev"), render("prod")
    assert not of_kind(prod, "StatefulSet")
    assert not of_kind(prod, "PersistentVolumeClaim")
    in_cluster = {"nats", "postgres", "redis", "localhost", "127.0.0.1"}
    urls = secret_values(prod, "maratron-connections")
    for key in ("NATS_URL", "DATABASE_URL", "REDIS_URL"):
        assert urlsplit(urls[key]).hostname not in in_cluster, key
    dev_replicas = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(dev, "Deployment")
    }
    for dep in of_kind(prod, "Deployment"):
        name = dep["metadata"]["name"]
        assert dep["spec"]["replicas"] > dev_replicas[name], name
        assert dep["spec"]["replicas"] >= 3, name
        image = pod_spec(dep)["containers"][0]["image"]
        assert not image.endswith((":latest", ":dev")), image
    for hpa in of_kind(prod, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 3
    ingress = of_kind(prod, "Ingress")[0]
    assert ingress["spec"].get("tls"), "prod Ingress terminates TLS"


def test_images_match_the_dockerfiles(objs: list[Obj]) -> None:
    dockerfiles = {p.parent.name for p in (REPO / "services").glob("*/Dockerfile")}
    expected = {"gateway" if d == "mcp-gateway" else d for d in dockerfiles}
    ours = {
        pod_spec(d)["containers"][0]["image"].rsplit("/", 1)[1].split(":")[0]
        for d in of_kind(objs, "Deployment")
    }
    assert ours == expected
