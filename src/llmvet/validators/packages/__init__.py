"""The `packages` validator: catch hallucinated, placeholder and slopsquatted packages in answers.

- extract.py    every package an answer names, with exact spans; built from
    refs.py               Ref / Extraction and pip / npm name parsing
    extract_commands.py   install commands (pip, uv, poetry, conda, npm, yarn, pnpm, npx...)
    extract_manifests.py  requirements, pyproject.toml, setup.py/cfg, Pipfile, package.json
    manifest_names.py     where an answer names a manifest file, and which manifest a name means
    extract_imports.py    Python and JS/TS imports, and the modules an answer defines
- import_map.py shipped data: import name -> distribution, Node built-ins, popular names
- registry.py   PyPI JSON / Simple API / npm lookups with caching, single flight and limits
    registry_index.py     which index pip / npm are configured with; Index
    registry_parse.py     registry answers -> info dicts
- signals.py    risk signals (placeholder wording, age, weak metadata, lookalike names)
- judge.py      findings for each looked-up name (remembered per reference kind and record)
- config.py     PackagesConfig, the policy settings
- validator.py  the Validator: policy lists, lookups, verdict
"""

from llmvet.validators.packages.validator import CODES, PackagesConfig, PackagesValidator

__all__ = ["CODES", "PackagesConfig", "PackagesValidator"]
