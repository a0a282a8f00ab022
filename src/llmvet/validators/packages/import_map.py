"""Shipped data: import name -> distribution, Node built-ins, popular names (see data/packages/README.md)."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from packaging.utils import canonicalize_name

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "packages"

# Additions to the pipreqs mapping: import names whose distribution is named differently and that
# LLM answers use often. Ours; checked against the registry when written.
_EXTRA = {
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dotenv": "python-dotenv",
    "dateutil": "python-dateutil",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "multipart": "python-multipart",
    "telegram": "python-telegram-bot",
    "socketio": "python-socketio",
    "engineio": "python-engineio",
    "slugify": "python-slugify",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyOpenSSL",
    "serial": "pyserial",
    "usb": "pyusb",
    "git": "GitPython",
    "github": "PyGithub",
    "gitlab": "python-gitlab",
    "zmq": "pyzmq",
    "attr": "attrs",
    "fitz": "PyMuPDF",
    "pymupdf": "PyMuPDF",
    "google.protobuf": "protobuf",
    "grpc": "grpcio",
    "faiss": "faiss-cpu",
    "sentence_transformers": "sentence-transformers",
    "win32api": "pywin32",
    "win32com": "pywin32",
    "pythoncom": "pywin32",
    "wx": "wxPython",
    "playhouse": "peewee",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "ldap": "python-ldap",
    "Levenshtein": "python-Levenshtein",
    "mpl_toolkits": "matplotlib",
    "pkg_resources": "setuptools",
    "lxml": "lxml",
    "markdown": "Markdown",
    "jinja2": "Jinja2",
    "flask_sqlalchemy": "Flask-SQLAlchemy",
    "flask_cors": "Flask-Cors",
    "flask_login": "Flask-Login",
    "flask_wtf": "Flask-WTF",
    "rest_framework": "djangorestframework",
    "corsheaders": "django-cors-headers",
    "debug_toolbar": "django-debug-toolbar",
    "tensorflow_hub": "tensorflow-hub",
    "speech_recognition": "SpeechRecognition",
    "pyaudio": "PyAudio",
    "Bio": "biopython",
    "kafka": "kafka-python",
    "dns": "dnspython",
    "nacl": "PyNaCl",
    "jwcrypto": "jwcrypto",
    "umap": "umap-learn",
    "hdbscan": "hdbscan",
    "igraph": "igraph",
    "community": "python-louvain",
    "ruamel": "ruamel.yaml",
    "typing_extensions": "typing-extensions",
    "google.generativeai": "google-generativeai",
    "openai": "openai",
    "anthropic": "anthropic",
    "langchain_openai": "langchain-openai",
    "langchain_community": "langchain-community",
    "langchain_core": "langchain-core",
    "llama_index": "llama-index",
    "pydantic_settings": "pydantic-settings",
    "huggingface_hub": "huggingface-hub",
    "tree_sitter": "tree-sitter",
    "websocket": "websocket-client",
    "Xlib": "python-xlib",
    "vlc": "python-vlc",
    "gi": "PyGObject",
    "cairo": "pycairo",
    "OpenGL": "PyOpenGL",
    "pygame": "pygame",
    "tkcalendar": "tkcalendar",
    "sqlalchemy": "SQLAlchemy",
    "jsonschema": "jsonschema",
    "azure.identity": "azure-identity",
    "azure.storage.blob": "azure-storage-blob",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.auth": "google-auth",
    "googleapiclient": "google-api-python-client",
    "google_auth_oauthlib": "google-auth-oauthlib",
    "google.oauth2": "google-auth",
    "google.api_core": "google-api-core",
    "google.genai": "google-genai",
    "google.colab": "google-colab",
    "google.cloud.aiplatform": "google-cloud-aiplatform",
    "vertexai": "google-cloud-aiplatform",
    "google.cloud.firestore": "google-cloud-firestore",
    "google.cloud.pubsub": "google-cloud-pubsub",
    "google.cloud.pubsub_v1": "google-cloud-pubsub",
    "google.cloud.speech": "google-cloud-speech",
    "google.cloud.vision": "google-cloud-vision",
    "google.cloud.translate": "google-cloud-translate",
    "google.cloud.translate_v2": "google-cloud-translate",
    "google.cloud.secretmanager": "google-cloud-secret-manager",
    "google.cloud.sql.connector": "cloud-sql-python-connector",
    "firebase_admin": "firebase-admin",
    "azure.storage.queue": "azure-storage-queue",
    "azure.keyvault.secrets": "azure-keyvault-secrets",
    "azure.ai.openai": "openai",
    "azure.functions": "azure-functions",
    "azure.core": "azure-core",
    "opentelemetry.trace": "opentelemetry-api",
    "opentelemetry.metrics": "opentelemetry-api",
    "opentelemetry.context": "opentelemetry-api",
    "opentelemetry.propagate": "opentelemetry-api",
    "bluetooth": "PyBluez",
    "win32con": "pywin32",
    "win32gui": "pywin32",
    "pywintypes": "pywin32",
    "win32clipboard": "pywin32",
    "RPi": "RPi.GPIO",
    "board": "adafruit-blinka",
    "busio": "adafruit-blinka",
    "digitalio": "adafruit-blinka",
    "skopt": "scikit-optimize",
    "django_filters": "django-filter",
}

# Namespace packages: the distribution is named after the first levels of the dotted path.
NAMESPACES = {
    "google": 3,
    "azure": 3,
    "zope": 2,
    "jaraco": 2,
    "backports": 2,
    "sphinxcontrib": 2,
    "oslo": 2,
    "plone": 2,
    "collective": 2,
    "ruamel": 2,
    "opentelemetry": 3,
    "flufl": 2,
}


def _read(name: str) -> str:
    return (DATA_DIR / name).read_text(encoding="utf-8")


@cache
def import_map() -> dict[str, str]:
    """Import (top-level or dotted) name -> distribution name."""
    out: dict[str, str] = {}
    for line in _read("import-map-pipreqs.txt").splitlines():
        mod, _, dist = line.partition(":")
        if mod and dist:
            out[mod] = dist
    out.update(_EXTRA)
    return out


@cache
def distributions_by_import() -> frozenset[str]:
    """Canonical names of distributions the map knows (to tell an import alias from an install name)."""
    return frozenset(canonicalize_name(d) for d in import_map().values())


@lru_cache(maxsize=16384)  # pure (the map is fixed data) and asked for every import on the warm path
def distribution_for(module: str) -> tuple[str, bool]:
    """(distribution name to look up, known) for an imported dotted module path.

    known=True when the mapping names the distribution; otherwise the name is a guess (the module's
    own name, or the namespace rule `google.cloud.storage` -> `google-cloud-storage`).
    """
    m = import_map()
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        dotted = ".".join(parts[:n])
        if dotted in m and (n > 1 or parts[0] not in NAMESPACES):
            return m[dotted], True
    top = parts[0]
    if top in NAMESPACES and len(parts) > 1:
        # google.cloud.pubsub_v1 -> google-cloud-pubsub: API-version suffixes are not in dist names
        levels = [re.sub(r"_?v\d+(?:beta\d*|alpha\d*)?$", "", p) or p for p in parts[: NAMESPACES[top]]]
        return "-".join(levels), False
    if top in m:
        return m[top], True
    return top, False


@lru_cache(maxsize=16384)  # pure, and asked for every PyPI name on the warm path
def install_alias(name: str) -> str | None:
    """If `name` is an import name whose distribution is called something else, that distribution."""
    dist = import_map().get(name) or import_map().get(name.replace("-", "_"))
    if dist and canonicalize_name(dist) != canonicalize_name(name):
        return dist
    return None


@cache
def _node_builtins() -> frozenset[str]:
    names = {n.strip() for n in _read("node-builtins.txt").splitlines() if n.strip()}
    return frozenset(names | {n.lstrip("_") for n in names} | {"node:test", "test", "sea", "sqlite"})


NODE_BUILTINS = _node_builtins()


@cache
def popular(ecosystem: str, path: str | None = None) -> tuple[str, ...]:
    """Most-used names, most popular first (canonical for PyPI)."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = _read(f"popular-{ecosystem}.txt")
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if ecosystem == "pypi":
        names = [canonicalize_name(n) for n in names]
    return tuple(dict.fromkeys(names))
