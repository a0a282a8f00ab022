"""A real haproxy (Debian's) running deploy/haproxy.cfg, with its backend pointed at local replicas."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.servers import free_port, wait_port

DEPLOY = Path(__file__).parent.parent.parent / "deploy"


def render_config(backend_ports: list[int], port: int, stats_port: int) -> str:
    """deploy/haproxy.cfg with loopback binds and one static server per replica (named r0, r1, ...).

    The test adds one response header naming the replica that answered (not in the shipped config)."""
    text = (DEPLOY / "haproxy.cfg").read_text()
    servers = "\n".join(f"    server r{i} 127.0.0.1:{p}" for i, p in enumerate(backend_ports))
    text, n = re.subn(
        r"^\s*server-template .*$", servers + "\n    http-response set-header x-served-by %s", text, flags=re.M
    )
    assert n == 1, "deploy/haproxy.cfg lost its server-template line"
    text = text.replace("bind :8080", f"bind 127.0.0.1:{port}").replace("bind :8404", f"bind 127.0.0.1:{stats_port}")
    return text


class Haproxy:
    def __init__(self, url: str, stats_url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.stats_url = stats_url
        self.proc = proc

    def server_states(self) -> dict[str, str]:
        """Each backend server's state as haproxy sees it (UP, DOWN, ...), from its Prometheus exporter."""
        text = httpx.get(self.stats_url + "/metrics", timeout=2).text
        states = re.findall(r'haproxy_server_status\{proxy="replicas",server="(\w+)",state="(\w+)"\} 1', text)
        return dict(states)

    def wait_states(self, wanted: dict[str, str], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while (states := self.server_states()) and any(states.get(s) != v for s, v in wanted.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"haproxy server states {states}, wanted {wanted}")
            time.sleep(0.1)


@contextmanager
def haproxy(backend_ports: list[int], workdir: Path) -> Iterator[Haproxy]:
    """Start haproxy in the foreground on a free loopback port; stop it on exit."""
    exe = shutil.which("haproxy")
    if exe is None:
        raise RuntimeError("haproxy is not installed (apt-get install -y haproxy)")
    port, stats_port = free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DEPLOY / "errors", workdir / "errors", dirs_exist_ok=True)
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(render_config(backend_ports, port, stats_port))
    log = open(workdir / "haproxy.log", "wb")  # noqa: SIM115  # held open for the process's life
    proc = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        yield Haproxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{stats_port}", proc)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
