"""Hostile OpenAPI spec pairs, v1 committed and passed as --base, keep the contract."""

from fuzzkit.strategies import assert_contract, fuzz_settings, inputs, sandbox  # noqa: F401 - fixture
from hypothesis import given


@fuzz_settings
@given(inp=inputs("openapi"))
def test_openapi_inputs_keep_the_contract(inp, sandbox):  # noqa: F811
    assert_contract(inp, sandbox)
