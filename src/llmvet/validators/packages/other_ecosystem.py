"""The same name on the other ecosystem: `pip install axios` names an npm package, `npm install
scikit-learn` a PyPI one. A name missing where it is installed from, but present on the other
registry, is most likely that package installed with the wrong tool; the finding says so, and so
does the proxy's re-ask feedback (it quotes finding messages).
"""

from __future__ import annotations

from functools import lru_cache

from llmvet.validators.packages.refs import NPM_NAME, PY_NAME
from llmvet.validators.packages.registry import canonical


@lru_cache(maxsize=8192)  # pure, and asked for every missing name of every answer
def name_there(name: str, ecosystem: str) -> str | None:
    """`name` as the other registry spells it, or None when it is not a valid name there."""
    if ecosystem == "npm":
        low = name.lower()
        return low if NPM_NAME.match(low) and not low.startswith(("@", ".", "_")) else None
    if name.startswith("@") or "/" in name or not PY_NAME.match(name):
        return None  # a scoped npm package has no PyPI twin
    return canonical(name)
