"""Registry answers -> one flat info dict per package: PyPI JSON API, the Simple API (PEP 691 JSON with
PEP 700 upload times, HTML for old mirrors) and npm packuments. Pure functions, no I/O."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _has_urls(*values: Any) -> bool:
    for v in values:
        if isinstance(v, dict) and any(
            isinstance(x, str) and x.strip() and x.strip().upper() != "UNKNOWN" for x in v.values()
        ):
            return True
        if isinstance(v, str) and v.strip() and v.strip().upper() != "UNKNOWN":
            return True
    return False


def parse_pypi_json(data: dict[str, Any]) -> dict[str, Any]:
    info = data.get("info") or {}
    releases: dict[str, list[dict[str, Any]]] = data.get("releases") or {}
    if not releases and info.get("version"):
        releases = {info["version"]: data.get("urls") or []}
    times: list[float] = []
    n_files = 0
    live_files = 0
    for files in releases.values():
        for f in files:
            n_files += 1
            live_files += not f.get("yanked", False)
            t = _epoch(f.get("upload_time_iso_8601") or f.get("upload_time"))
            if t:
                times.append(t)
    desc = info.get("description") or ""
    return {
        "name": info.get("name") or "",
        "summary": (info.get("summary") or "")[:300],
        "description": desc[:1500],
        "description_len": len(desc.strip()),
        "has_urls": _has_urls(info.get("project_urls"), info.get("home_page"), info.get("download_url")),
        "versions": list(releases),
        "n_releases": sum(1 for f in releases.values() if f) or len(releases),
        "n_files": n_files,
        "installable": live_files > 0,
        "first_upload": min(times) if times else None,
        "last_upload": max(times) if times else None,
        "latest": info.get("version") or "",
        "deprecated": None,
    }


def _version_of_file(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        m = re.match(r"^.+?-(\d[^-]*?)(?:\.tar\.gz|\.zip|\.tar\.bz2|\.egg|\.exe|\.msi)$", filename)
        return m.group(1) if m else None


def parse_simple_json(data: dict[str, Any]) -> dict[str, Any]:
    files = data.get("files") or []
    versions = list(data.get("versions") or [])  # PEP 700
    with_files: set[str] = set()
    times = []
    live = 0
    for f in files:
        v = _version_of_file(f.get("filename", ""))
        if v:
            with_files.add(v)
            if v not in versions:
                versions.append(v)
        live += not f.get("yanked", False)
        t = _epoch(f.get("upload-time"))
        if t:
            times.append(t)
    return {
        "name": data.get("name") or "",
        "summary": "",
        "description": "",
        "description_len": None,  # unknown: the Simple API carries no metadata
        "has_urls": None,
        "versions": versions,
        "n_releases": len(with_files) or len(versions),
        "n_files": len(files),
        "installable": live > 0,
        "first_upload": min(times) if times else None,
        "last_upload": max(times) if times else None,
        "latest": versions[-1] if versions else "",
        "deprecated": None,
    }


def parse_simple_html(text: str, name: str) -> dict[str, Any]:
    files = []
    for m in re.finditer(r"<a\s[^>]*>([^<]+)</a>", text, re.I):
        tag = m.group(0)
        files.append({"filename": m.group(1).strip(), "yanked": "data-yanked" in tag})
    return parse_simple_json({"name": name, "files": files})


def parse_npm(data: dict[str, Any]) -> dict[str, Any]:
    times = data.get("time") or {}
    versions = data.get("versions") or {}
    latest = (data.get("dist-tags") or {}).get("latest") or (list(versions)[-1] if versions else "")
    latest_doc = versions.get(latest) or {}
    desc = data.get("description") or latest_doc.get("description") or ""
    readme = data.get("readme") or ""
    ver_times = [t for k, v in times.items() if k not in ("created", "modified", "unpublished") and (t := _epoch(v))]
    return {
        "name": data.get("name") or "",
        "summary": desc[:300],
        "description": readme[:1500],
        "description_len": len(readme.strip()) or len(desc.strip()),
        "has_urls": _has_urls(
            data.get("homepage"),
            data.get("repository"),
            latest_doc.get("homepage"),
            latest_doc.get("repository") if isinstance(latest_doc.get("repository"), (str, dict)) else None,
        ),
        "versions": list(versions),
        "n_releases": len(versions),
        "n_files": len(versions),
        "installable": bool(versions),
        "first_upload": _epoch(times.get("created")) or (min(ver_times) if ver_times else None),
        "last_upload": max(ver_times) if ver_times else None,
        "latest": latest,
        "deprecated": latest_doc.get("deprecated") if isinstance(latest_doc.get("deprecated"), str) else None,
        "unpublished": bool(times.get("unpublished")) and not versions,
    }
