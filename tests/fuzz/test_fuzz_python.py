"""Hostile Python application files (state and telemetry analyzers) keep the contract."""

from fuzzkit.strategies import assert_contract, fuzz_settings, inputs, sandbox  # noqa: F401 - fixture
from hypothesis import given


@fuzz_settings
@given(inp=inputs("python"))
def test_python_inputs_keep_the_contract(inp, sandbox):  # noqa: F811
    assert_contract(inp, sandbox)
