"""The deployment kit (deploy/) validated by the tools a platform team would use: `docker-compose config`
(Debian's docker-compose), `kubernetes-validate` against a pinned Kubernetes version, `haproxy -c`; and
checked against how the image runs `llmvet serve` (port, user, probes, drain timing)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from llmvet.policy.loader import load_policy

ROOT = Path(__file__).parent.parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # the oldest minor the manifests promise to work on

needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed (.ci/install: apt docker-compose)"
)
needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (.ci/install)")


def compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-f", str(folder / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},  # no LLMVET_* of the test run leaks in
    )


def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by (kind, name)."""
    docs = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def dockerfile(instruction: str) -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [ln.split(None, 1)[1] for ln in text.splitlines() if ln.startswith(instruction + " ")][-1]


# ---- compose ------------------------------------------------------------------------------------------
@needs_compose
def test_compose_file_is_valid_and_wires_replicas_redis_lb_and_prometheus():
    done = compose_config(DEPLOY)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"llmvet", "redis", "haproxy", "prometheus"}
    llmvet, redis = services["llmvet"], services["redis"]
    assert llmvet["build"]["context"] == str(ROOT) and llmvet["deploy"]["replicas"] >= 2
    assert llmvet["environment"]["LLMVET_STORE"] == "redis://redis:6379/0"
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    # Docker's grace period outlasts the drain, or held requests would be cut by SIGKILL.
    grace = int(llmvet["stop_grace_period"].rstrip("s"))
    assert grace > float(llmvet["environment"]["LLMVET_DRAIN_TIMEOUT"]) + 5
    mounts = {v.split(":")[1] for v in llmvet["volumes"]}
    assert llmvet["environment"]["LLMVET_POLICY"] in mounts
    # The audit journal is on a named volume: it outlives the container (a crash's records are replayed).
    journal = next(v for v in llmvet["volumes"] if v.split(":")[1] == llmvet["environment"]["LLMVET_AUDIT_JOURNAL"])
    assert journal.split(":")[0] in services_volumes(done.stdout)
    # Prometheus finds every replica by the service's DNS name, on the port the image listens on.
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "llmvet")
    assert job["dns_sd_configs"][0]["names"] == ["llmvet"] and job["dns_sd_configs"][0]["port"] == 8080


def services_volumes(config: str) -> set[str]:
    return set(yaml.safe_load(config).get("volumes") or {})


@needs_compose
def test_compose_config_fails_on_a_broken_file(tmp_path):
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    broken = (DEPLOY / "compose.yaml").read_text().replace("    environment:\n", "    enviroment:\n", 1)
    (tmp_path / "deploy" / "compose.yaml").write_text(broken)
    done = compose_config(tmp_path / "deploy")
    assert done.returncode != 0 and "enviroment" in done.stderr


# ---- haproxy --------------------------------------------------------------------------------------------
@needs_haproxy
def test_haproxy_config_is_valid():
    done = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", sorted((DEPLOY / "errors").glob("*.http")), ids=lambda p: p.name)
def test_haproxy_error_pages_are_openai_shaped(path):
    head, body = path.read_bytes().split(b"\r\n\r\n", 1)
    status_line, *headers = head.decode().split("\r\n")
    fields = dict(h.lower().split(": ", 1) for h in headers)
    assert re.fullmatch(r"HTTP/1\.1 \d{3} [A-Za-z ]+", status_line)
    assert fields["content-type"] == "application/json" and int(fields["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["message"]
    assert f"errorfile {path.stem} errors/{path.name}" in (DEPLOY / "haproxy.cfg").read_text()


# ---- kubernetes -------------------------------------------------------------------------------------------
def test_kubernetes_manifests_validate_against_the_pinned_version():
    objects = manifests()
    for doc in objects.values():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    wanted = {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "StatefulSet"}
    assert wanted <= {kind for kind, _ in objects}
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_kubernetes_validate_rejects_a_broken_manifest():
    deployment = manifests()[("Deployment", "llmvet")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["port"] = ["http"]  # not a port name or number
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    typo = manifests()[("Deployment", "llmvet")]
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # strict: unknown fields fail
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSION, strict=True)


def test_deployment_matches_the_image_and_the_drain():
    objects = manifests()
    deployment = objects[("Deployment", "llmvet")]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    settings = objects[("ConfigMap", "llmvet-settings")]["data"]
    # The image's port, user and command (tests/test_dockerfile.py runs that command).
    assert container["ports"][0]["containerPort"] == int(dockerfile("EXPOSE")) == int(env["LLMVET_PORT"]["value"])
    assert str(pod["securityContext"]["runAsUser"]) in dockerfile("RUN")  # useradd --uid
    assert "command" not in container and "args" not in container
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # Kubernetes waits preStop + the drain before its SIGKILL, with room to release held requests.
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + float(settings["LLMVET_DRAIN_TIMEOUT"]) + 10
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # Secrets are referenced, never written in the manifests.
    assert env["LLMVET_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "llmvet"
    assert ("Secret", "llmvet") not in objects
    # The audit journal is on an emptyDir: it outlives a crashed container (the pod's restart replays it).
    journal = next(m for m in container["volumeMounts"] if m["mountPath"] == env["LLMVET_AUDIT_JOURNAL"]["value"])
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == journal["name"])
    assert journal["mountPath"] in dockerfile("RUN")  # the image creates it for its user (a volume keeps that)
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    # The Service and the PodDisruptionBudget select these pods; the store is the Redis StatefulSet.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = objects[(kind, "llmvet")]["spec"]["selector"]
        assert (selector.get("matchLabels") or selector).items() <= labels.items()
    redis = objects[("StatefulSet", "llmvet-redis")]
    assert settings["LLMVET_STORE"] == f"redis://{redis['spec']['serviceName']}:6379/0"
    assert "--appendonly" in redis["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_configmap_policy_is_deploy_policy_and_loads(tmp_path):
    policy_text = manifests()[("ConfigMap", "llmvet-policy")]["data"]["policy.yaml"]
    assert policy_text == (DEPLOY / "policy.yaml").read_text()
    load_policy(DEPLOY / "policy.yaml")  # raises on a policy `llmvet serve` would refuse
    mount = manifests()[("Deployment", "llmvet")]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    settings = manifests()[("ConfigMap", "llmvet-settings")]["data"]
    assert settings["LLMVET_POLICY"] == f"{mount['mountPath']}/policy.yaml"


def test_dockerignore_keeps_what_the_image_copies():
    import pathspec

    ignored = pathspec.GitIgnoreSpec.from_lines((ROOT / ".dockerignore").read_text().splitlines())
    copied = [src for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
              for src in line.split()[1:-1]]  # fmt: skip
    assert copied and not [src for src in copied if ignored.match_file(src) or ignored.match_file(src + "/x")]
    assert ignored.match_file(".git/config") and ignored.match_file("tests/conftest.py")


# ---- the settings the kit gives, run ------------------------------------------------------------------------
def compose_environment() -> dict[str, str]:
    done = compose_config(DEPLOY)
    assert done.returncode == 0, done.stderr
    llmvet = yaml.safe_load(done.stdout)["services"]["llmvet"]
    mounts = dict(v.split(":")[:2] for v in llmvet["volumes"])
    env = {k: str(v) for k, v in llmvet["environment"].items()}
    assert mounts[str(DEPLOY / "policy.yaml")] == env["LLMVET_POLICY"]
    return env


def kubernetes_environment() -> dict[str, str]:
    objects = manifests()
    container = objects[("Deployment", "llmvet")]["spec"]["template"]["spec"]["containers"][0]
    env = dict(objects[("ConfigMap", "llmvet-settings")]["data"])
    for e in container["env"]:  # the Secret's values are the operator's: stand-ins here
        env[e["name"]] = e.get("value", "secret-from-the-cluster")
    return env


@pytest.mark.parametrize("kit", ["compose", "kubernetes"])
def test_the_image_command_serves_with_the_kits_settings(kit, fake, redis_url, tmp_path):
    """`llmvet serve` (the image's CMD) with every setting the kit gives a replica: only where things are
    (the store, the upstream, the policy file, the port) is pointed at this machine."""
    import os
    import signal

    import httpx
    import openai

    from tests.support.servers import free_port, wait_port

    if kit == "compose" and shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (.ci/install: apt docker-compose)")
    env = compose_environment() if kit == "compose" else kubernetes_environment()
    assert env["LLMVET_STORE"].startswith("redis://") and env["LLMVET_POLICY"].startswith("/etc/llmvet/")
    port = free_port()
    env |= {"LLMVET_STORE": redis_url, "LLMVET_POLICY": str(DEPLOY / "policy.yaml"), "LLMVET_UPSTREAM": fake.url}
    env |= {"LLMVET_HOST": "127.0.0.1", "LLMVET_PORT": str(port), "LLMVET_AUDIT_JOURNAL": str(tmp_path / "journal")}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115  # held open for the process's life
    proc = subprocess.Popen(json.loads(dockerfile("CMD")), env={**os.environ, **env}, stdout=log, stderr=log)
    try:
        wait_port(port, 30)
        deadline = time.monotonic() + 20
        while httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-app", max_retries=0, timeout=10)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-x", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-llmvet-policy"].startswith("default@") and raw.parse().choices[0].message.content
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # drained and stopped cleanly
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
