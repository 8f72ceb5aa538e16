"""Typed configs: strict loading with errors that name the field and the fix."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from synthrec.config import RunConfig, load_config
from synthrec.configtools import config_hash, from_dict, to_dict
from synthrec.errors import ConfigError


@dataclass
class _Inner:
    size: int = 1
    mode: Literal["a", "b"] = "a"


@dataclass
class _Outer:
    rate: float = 0.1
    inner: _Inner = field(default_factory=_Inner)
    names: list[str] = field(default_factory=list)
    limit: int | None = None


def test_nested_values_are_converted_to_their_declared_types():
    cfg = from_dict(_Outer, {"rate": "1e-4", "inner": {"size": 3.0}, "names": ["x"]})
    assert cfg.rate == pytest.approx(1e-4)
    assert cfg.inner.size == 3 and isinstance(cfg.inner.size, int)
    assert cfg.names == ["x"] and cfg.limit is None


def test_an_unknown_key_is_rejected_with_its_dotted_path_and_the_valid_keys():
    with pytest.raises(ConfigError, match=r"inner\.sise.*valid keys here: mode, size"):
        from_dict(_Outer, {"inner": {"sise": 2}})


def test_a_wrong_type_names_the_field_and_the_expected_type():
    with pytest.raises(
        ConfigError, match=r"inner\.size='many' is invalid: expected an integer"
    ):
        from_dict(_Outer, {"inner": {"size": "many"}})


def test_a_literal_lists_its_choices():
    with pytest.raises(ConfigError, match=r"choose one of 'a', 'b'"):
        from_dict(_Outer, {"inner": {"mode": "c"}})


def test_the_config_hash_ignores_key_order_and_changes_with_values():
    a = from_dict(_Outer, {"rate": 0.5, "names": ["x"]})
    b = from_dict(_Outer, {"names": ["x"], "rate": 0.5})
    c = from_dict(_Outer, {"names": ["x"], "rate": 0.6})
    assert config_hash(a) == config_hash(b) != config_hash(c)


def test_a_run_config_round_trips_through_plain_data():
    cfg = RunConfig()
    assert from_dict(RunConfig, to_dict(cfg)) == cfg


def test_validation_runs_after_loading_and_names_the_field():
    with pytest.raises(ConfigError, match="sasrec.hidden_size"):
        from_dict(RunConfig, {"sasrec": {"hidden_size": 50, "num_heads": 4}})


def test_a_missing_or_malformed_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize("path", ["sweeps/smoke.yaml", "sweeps/local.yaml"])
def test_the_shipped_run_configs_load(path):
    from tests.conftest import REPO

    assert isinstance(load_config(REPO / path), RunConfig)
