"""llmvet's test suite. Folders mirror src/llmvet/; shared fakes and helpers live in tests.support.

It is a package so tests import helpers as `from tests.support.fake_upstream import FakeUpstream`
(pytest puts the repository root on sys.path for it) and same-named modules in different folders
(validators/packages/test_validator.py, validators/consistency/test_validator.py) do not clash.
"""
