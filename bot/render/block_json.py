"""Block Kit models as the JSON Slack reads: what slack_sdk's `to_dict()` makes, validated by
the same validators, in about a third of the time.

slack_sdk's `to_dict()` finds an object's validators (`dir()` of its instance, sorted) and
its attributes (a set built and sorted) afresh for every block, then converts each nested
object twice. An answer of 40 sections spent 0.75 ms there, a fifth of its CPU. Here each
class's validators and attribute names are read once; every object is still validated by
them, and the output is the same dict (tests/handlers/test_block_json.py compares the two on
every kind of block Parley makes, and on invalid ones). A class that makes its own JSON
(`Option`, `ConfirmObject` …) is left to its own `to_dict()`.

    payload = {"blocks": [block_json(block) for block in blocks]}
"""

from __future__ import annotations

from functools import cache
from typing import Any

from slack_sdk.models.basic_objects import EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST, JsonObject

#: (type, property) pairs Slack allows as an empty list (slack_sdk's own exceptions).
EMPTY_ALLOWED = frozenset((e["type"], e["property"]) for e in EMPTY_ALLOWED_TYPE_AND_PROPERTY_LIST)


def block_json(obj: JsonObject) -> dict[str, Any]:
    """`obj.to_dict()`, the same dict and the same SlackObjectFormationError when invalid."""
    cls = type(obj)
    validators = _validators(cls)
    if validators is None:
        return obj.to_dict()
    return _made(obj, cls, validators)


def _made(obj: JsonObject, cls: type, validators: tuple[str, ...]) -> dict[str, Any]:
    for validator in validators:
        getattr(obj, validator)()
    names = _NAMES.get(cls)
    if names is None:  # a property of each class, the same for all its instances
        names = _NAMES[cls] = tuple(sorted(obj.attributes))
    kind = getattr(obj, "type", None)
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name, None)
        if value is None:
            continue
        if hasattr(value, "__len__") and not len(value) and (kind, name) not in EMPTY_ALLOWED:
            continue
        out[name] = _value(value)
    return out


_NAMES: dict[type, tuple[str, ...]] = {}  # each class's attributes, sorted


@cache
def _validators(cls: type) -> tuple[str, ...] | None:
    """A class's validators, sorted as slack_sdk runs them; None for a class that makes its
    JSON its own way."""
    if (
        cls.to_dict is not JsonObject.to_dict  # type: ignore[attr-defined]
        or cls.get_non_null_attributes is not JsonObject.get_non_null_attributes  # type: ignore[attr-defined]
        or cls.get_object_attribute is not JsonObject.get_object_attribute  # type: ignore[attr-defined]
        or cls.validate_json is not JsonObject.validate_json  # type: ignore[attr-defined]
    ):
        return None
    return tuple(
        sorted(
            name
            for name in dir(cls)
            if not name.startswith("__") and _is_validator(getattr(cls, name, None))
        )
    )


def _is_validator(value: Any) -> bool:
    return callable(value) and hasattr(value, "validator")


def _value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_value(item) for item in value]
    if isinstance(value, JsonObject):
        cls = type(value)
        validators = _validators(cls)
        if validators is not None:
            return _made(value, cls, validators)
    if callable(getattr(value, "to_dict", None)):
        return _converted(value.to_dict())
    return value


def _converted(made: dict[str, Any]) -> dict[str, Any]:
    """A dict another `to_dict()` made, its values converted as slack_sdk converts them."""
    return {key: _plain(value) for key, value in made.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if callable(getattr(value, "to_dict", None)):
        return _converted(value.to_dict())
    return value
