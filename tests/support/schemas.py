"""Custom resources checked the way kube-apiserver checks them against a CRD schema.

Three steps, in the server's order: prune fields the structural schema does not know,
apply ``default`` values (and drop nulls in non-nullable fields), then validate. The
validation is jsonschema's (Draft 4, which matches OpenAPI 3.0's boolean
``exclusiveMaximum``); its errors are translated into the server's field-error wording
so tests can assert on the exact message ``kubectl`` would print.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(lambda value: not isinstance(value, str)
                             or bool(_DATE_TIME.match(value)))
_FORMATS.checks("date")(lambda value: not isinstance(value, str) or bool(_DATE.match(value)))


@dataclass(frozen=True)
class FieldError:
    """One entry of a Status's ``details.causes``, as ``k8s.io/apimachinery`` words it."""

    type: str  # FieldValueInvalid, FieldValueRequired, ...
    field: str
    body: str  # "Invalid value: 500: spec.x in body should be ..." / "Required value"

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body, "field": self.field}


def go_value(value: Any) -> str:
    """A value as Go's field errors print it: strings quoted, numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, sort_keys=True)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def to_json_schema(schema: Any) -> Any:
    """Translate the OpenAPI dialect (nullable, int-or-string) into plain JSON Schema."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: to_json_schema(value) for key, value in schema.items()
           if key not in ("default", "example")}
    # properties/definitions map names to schemas: translate the values, not the names.
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def prune(obj: Any, schema: dict[str, Any], *, root: bool = True) -> list[str]:
    """Drop fields the structural schema does not declare; return their paths."""
    pruned: list[str] = []
    _prune(obj, schema, "", pruned, root=root)
    return pruned


def _prune(value: Any, schema: dict[str, Any], path: str, pruned: list[str],
           *, root: bool) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        embedded = root or schema.get("x-kubernetes-embedded-resource", False)
        for key in list(value):
            child_path = f"{path}.{key}" if path else key
            if embedded and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in properties:
                _prune(value[key], properties[key], child_path, pruned, root=False)
            elif isinstance(additional, dict):
                _prune(value[key], additional, child_path, pruned, root=False)
            elif not (preserve or additional is True):
                del value[key]
                pruned.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{index}]", pruned, root=False)


def apply_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Structural defaulting: fill missing fields of present objects with their defaults.

    Like the server, a null in a non-nullable field is replaced by the default, or
    dropped when there is none (so a merge-patch style null never reaches validation).
    """
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key not in value:
                if "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
            elif value[key] is None and not sub.get("nullable", False):
                if "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                else:
                    del value[key]
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            if key in properties:
                apply_defaults(child, properties[key])
            elif isinstance(additional, dict):
                apply_defaults(child, additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


class SchemaValidator:
    """Validates whole objects against one CRD version's ``openAPIV3Schema``."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = jsonschema.Draft4Validator(to_json_schema(schema),
                                                     format_checker=_FORMATS)

    def errors(self, obj: Any) -> list[FieldError]:
        found: dict[tuple[str, str], FieldError] = {}
        for error in self._validator.iter_errors(obj):
            for field_error in _translate(error):
                found.setdefault((field_error.field, field_error.body), field_error)
        return sorted(found.values(), key=lambda e: (e.field, e.body))


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _translate(error: jsonschema.ValidationError) -> list[FieldError]:
    field = _path(error.absolute_path)
    where = f"{field} in body" if field else "body"
    keyword, limit, value = error.validator, error.validator_value, error.instance
    invalid = f"Invalid value: {go_value(value)}: {where}"
    if keyword == "required":
        missing = [key for key in limit if isinstance(value, dict) and key not in value]
        return [FieldError("FieldValueRequired", f"{field}.{key}" if field else key,
                           "Required value") for key in missing]
    if keyword == "type":
        wanted = limit if isinstance(limit, str) else next(t for t in limit if t != "null")
        actual = _json_type(value)
        return [FieldError("FieldValueTypeInvalid", field,
                           f'Invalid value: "{actual}": {where} must be of type {wanted}: '
                           f'"{actual}"')]
    if keyword == "enum":
        supported = ", ".join(go_value(v) for v in limit if v is not None)
        return [FieldError("FieldValueNotSupported", field,
                           f"Unsupported value: {go_value(value)}: supported values: "
                           f"{supported}")]
    if keyword == "maximum":
        exclusive = error.schema.get("exclusiveMaximum", False)
        relation = "less than" if exclusive else "less than or equal to"
        return [FieldError("FieldValueInvalid", field,
                           f"{invalid} should be {relation} {go_value(limit)}")]
    if keyword == "minimum":
        exclusive = error.schema.get("exclusiveMinimum", False)
        relation = "greater than" if exclusive else "greater than or equal to"
        return [FieldError("FieldValueInvalid", field,
                           f"{invalid} should be {relation} {go_value(limit)}")]
    if keyword == "maxLength":
        unit = "byte" if limit == 1 else "bytes"
        return [FieldError("FieldValueTooLong", field,
                           f"Too long: may not be more than {limit} {unit}")]
    if keyword == "minLength":
        return [FieldError("FieldValueInvalid", field,
                           f"{invalid} should be at least {limit} chars long")]
    if keyword == "maxItems":
        return [FieldError("FieldValueTooMany", field,
                           f"Too many: {len(value)}: must have at most {limit} items")]
    if keyword == "minItems":
        return [FieldError("FieldValueInvalid", field,
                           f"Invalid value: {len(value)}: {where} should have at least "
                           f"{limit} items")]
    if keyword == "maxProperties":
        return [FieldError("FieldValueTooMany", field,
                           f"Too many: {len(value)}: must have at most {limit} items")]
    if keyword == "pattern":
        return [FieldError("FieldValueInvalid", field, f"{invalid} should match '{limit}'")]
    if keyword == "format":
        return [FieldError("FieldValueInvalid", field,
                           f"{invalid} must be of type {limit}: {go_value(value)}")]
    if keyword == "uniqueItems":
        return [FieldError("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")]
    return [FieldError("FieldValueInvalid", field, f"{invalid}: {error.message}")]
