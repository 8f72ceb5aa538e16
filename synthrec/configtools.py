"""Typed configs from YAML: strict loading, validation at the edge, stable hashes.

Every component has one dataclass. `from_dict` builds it from plain data (YAML,
a Ray Tune config) and rejects unknown keys and wrongly typed values with a
`ConfigError` that names the field, the value and what would be accepted.
Dataclasses may define `validate(self)` to check ranges; it runs after loading.
"""

import dataclasses
import hashlib
import json
import types
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from synthrec.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass `cls` from a mapping, strictly."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key {_join(where, unknown[0])!r}; "
            f"valid keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {
        name: _convert(hints[name], value, _join(where, name))
        for name, value in data.items()
    }
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) for a config tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any, length: int = 12) -> str:
    """A short, stable hash of a config tree (key order does not matter)."""
    text = json.dumps(to_dict(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with a clear error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: top level must be a mapping, got {type(data).__name__}"
        )
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge `override` into a copy of `base` (mappings only)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def require(condition: bool, field: str, value: Any, fix: str) -> None:
    """Raise a ConfigError naming `field`, `value` and the `fix` unless `condition`."""
    if not condition:
        raise ConfigError(f"{field}={value!r} is invalid: {fix}")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    args = get_args(hint)

    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {hint}"
        )
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{where}={value!r} is invalid: choose one of {choices}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}={value!r} is invalid: expected a list")
        inner = args[0] if args else Any
        items = [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}={value!r} is invalid: expected a mapping")
        key_t, val_t = args if args else (Any, Any)
        return {
            _convert(key_t, k, where): _convert(val_t, v, f"{where}.{k}")
            for k, v in value.items()
        }
    return _scalar(hint, value, where)


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}={value!r} is invalid: expected true or false")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}={value!r} is invalid: expected an integer")
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}={value!r} is invalid: expected an integer")
        return int(value)
    if hint is float:
        if isinstance(value, str):
            try:  # YAML reads 1e-4 as a string; accept numeric strings for floats
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}={value!r} is invalid: expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}={value!r} is invalid: expected a string")
        return value
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(
        f"{where}={value!r} is invalid: expected {getattr(hint, '__name__', hint)}"
    )


__all__ = [
    "config_hash",
    "deep_merge",
    "from_dict",
    "load_yaml",
    "require",
    "to_dict",
]
