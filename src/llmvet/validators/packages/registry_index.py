"""Where the registries are: the index pip is configured with, npm's registry, and `Index`,
the identity of one registry in cache keys."""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

PUBLIC_PYPI_SIMPLE = "https://pypi.org/simple"
PUBLIC_NPM = "https://registry.npmjs.org"

canonical = lru_cache(maxsize=65536)(canonicalize_name)  # hot on the warm path


def pip_config_files() -> list[Path]:
    """pip's configuration files in the order pip reads them (later ones override earlier ones)."""
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files.append(Path("/etc/pip.conf"))
    home = Path.home()
    # like pip: an existing PIP_CONFIG_FILE replaces the user's own files
    if not (env_file and Path(env_file).exists()):
        if sys.platform == "win32":
            appdata = os.environ.get("APPDATA", "")
            files += [Path(appdata) / "pip" / "pip.ini", home / "pip" / "pip.ini"]
        elif sys.platform == "darwin":
            files += [home / ".pip" / "pip.conf", home / "Library" / "Application Support" / "pip" / "pip.conf"]
        else:
            xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
            files += [home / ".pip" / "pip.conf", Path(xdg_home) / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if env_file:
        files.append(Path(env_file))
    return files


def pip_index_url(environ: dict[str, str] | None = None, files: list[Path] | None = None) -> str:
    """The index pip would install from: PIP_INDEX_URL, else index-url in pip's config files
    ([install] overrides [global]), else the public PyPI Simple index."""
    env = os.environ if environ is None else environ
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"].strip()
    found = None
    for path in pip_config_files() if files is None else files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        cp = configparser.RawConfigParser()
        try:
            cp.read_string(text)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if cp.has_option(section, "index-url"):
                found = cp.get(section, "index-url").strip()
    return found or PUBLIC_PYPI_SIMPLE


def npm_registry_url(environ: dict[str, str] | None = None, npmrc: Path | None = None) -> str:
    """NPM_CONFIG_REGISTRY, else `registry=` in ~/.npmrc, else the public npm registry."""
    env = os.environ if environ is None else environ
    for k in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
        if env.get(k):
            return env[k].strip()
    path = npmrc if npmrc is not None else Path.home() / ".npmrc"
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s*registry\s*=\s*(\S+)", line)
            if m:
                return m.group(1)
    except OSError:
        pass
    return PUBLIC_NPM


def json_api_for(index_url: str) -> str | None:
    """PyPI's JSON API base when the index is PyPI (or TestPyPI); None for other mirrors."""
    parts = urlsplit(index_url)
    if parts.hostname in ("pypi.org", "test.pypi.org") and parts.path.rstrip("/") in ("/simple", ""):
        return f"{parts.scheme}://{parts.netloc}/pypi"
    return None


@dataclass(frozen=True, slots=True)
class Index:
    ecosystem: str  # "pypi" | "npm"
    url: str  # Simple API base for PyPI, registry root for npm
    json_url: str | None = None  # PyPI JSON API base (richer metadata) when available
    id: str = field(init=False, compare=False)  # short stable id, part of cache keys

    def __post_init__(self) -> None:
        ident = hashlib.blake2s(f"{self.ecosystem} {self.url} {self.json_url}".encode(), digest_size=5).hexdigest()
        object.__setattr__(self, "id", ident)

    @property
    def label(self) -> str:
        return self.json_url or self.url
