"""The `packages` validator: catch hallucinated, placeholder and slopsquatted packages in answers.

- extract.py    install commands, manifests and imports, with exact spans
- import_map.py shipped data: import name -> distribution, Node built-ins, popular names
- registry.py   PyPI JSON / Simple API / npm lookups with caching, single flight and limits
- signals.py    risk signals (placeholder wording, age, weak metadata, lookalike names)
- validator.py  the Validator: config, judgement, findings
"""

from llmvet.validators.packages.validator import CODES, PackagesConfig, PackagesValidator

__all__ = ["CODES", "PackagesConfig", "PackagesValidator"]
