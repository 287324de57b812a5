"""Personalization of notification copy, and picking the copy a subscriber gets.

The template language is deliberately tiny and parsed here with a regular expression — nothing is
ever evaluated: ``{{ first_name }}`` and ``{{ first_name|default:"there" }}``. Variables come from
a fixed set (``ALLOWED_VARIABLES``) or name a subscriber attribute (``attributes.<key>``); the only
filter is ``default``. Anything else is refused when the copy is saved, with details.

Length limits (title 65, body 240 characters; FCM and browsers truncate beyond) are checked at save
time on the copy *rendered with defaults*: a variable with a default counts as its default, one
without counts as ``VARIABLE_WITHOUT_DEFAULT_LENGTH`` (20) characters — a long first name or city.
At send time a subscriber's real value can still be longer; ``render`` then shortens the text to
the limit with an ellipsis rather than letting the platform cut it anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

TITLE_MAX = 65
BODY_MAX = 240
VARIABLE_WITHOUT_DEFAULT_LENGTH = 20
DEFAULT_MAX = 60

ALLOWED_VARIABLES = ("first_name", "last_name", "full_name", "city", "country")
ATTRIBUTE_PREFIX = "attributes."
ALLOWED_FILTERS = ("default",)

_TAG_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TAG_BODY_RE = re.compile(
    r"""^\s*
    (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)   # variable, maybe dotted
    \s*
    (?:\|\s*(?P<filter>[A-Za-z_][A-Za-z0-9_]*)\s*           # one filter
       (?::\s*(?P<arg>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))?  # with a quoted argument
    \s*)?
    $""",
    re.VERBOSE | re.DOTALL,
)
_ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES_RE = re.compile(r"[ \t]{2,}")
# BCP 47 as push copy uses it: language, optional script, optional region (en, en-IN, zh-Hant-TW).
_LANGUAGE_RE = re.compile(r"^([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|\d{3}))?$")


class PersonalizationError(ValueError):
    """Copy that cannot be saved; ``errors`` lists each problem as {code, message, token?}."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Placeholder:
    token: str  # the whole {{ … }} as written
    name: str
    default: str | None

    @property
    def budget(self) -> int:
        """Characters this placeholder counts for when checking limits at save time."""
        return len(self.default) if self.default is not None else VARIABLE_WITHOUT_DEFAULT_LENGTH


Part = str | Placeholder


def _unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", arg[1:-1])
    return arg


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> tuple[Part, ...]:
    """Split copy into literal strings and placeholders; PersonalizationError lists every problem.

    Cached: a send renders the same few texts for every subscriber of a batch (parts are immutable)."""
    parts: list[Part] = []
    errors: list[dict] = []
    position = 0
    for match in _TAG_RE.finditer(text):
        literal = text[position : match.start()]
        _check_literal(literal, errors)
        if literal:
            parts.append(literal)
        position = match.end()
        token = match.group(0)
        placeholder = _parse_tag(token, match.group(1), errors)
        if placeholder is not None:
            parts.append(placeholder)
    tail = text[position:]
    _check_literal(tail, errors)
    if tail:
        parts.append(tail)
    if errors:
        raise PersonalizationError(errors)
    return tuple(parts)


def _check_literal(literal: str, errors: list[dict]) -> None:
    if "{{" in literal:
        errors.append(
            {
                "code": "unclosed_placeholder",
                "message": "A '{{' has no matching '}}'.",
                "token": literal[literal.index("{{") :][:40],
            }
        )
    elif "}}" in literal:
        errors.append(
            {"code": "unopened_placeholder", "message": "A '}}' has no matching '{{'.", "token": "}}"}
        )
    if "{%" in literal or "%}" in literal:
        errors.append(
            {
                "code": "unsupported_tag",
                "message": "Template tags ({% … %}) are not supported; only {{ variable }} and "
                '{{ variable|default:"…" }}.',
                "token": "{%",
            }
        )


def _parse_tag(token: str, inner: str, errors: list[dict]) -> Placeholder | None:
    match = _TAG_BODY_RE.match(inner)
    if not match:
        errors.append(
            {
                "code": "invalid_placeholder",
                "token": token[:80],
                "message": f'{token[:80]} is not {{{{ variable }}}} or {{{{ variable|default:"…" }}}}.',
            }
        )
        return None
    name, filter_name, arg = match.group("name"), match.group("filter"), match.group("arg")
    ok = True
    if not is_allowed_variable(name):
        ok = False
        errors.append(
            {
                "code": "unknown_variable",
                "token": token[:80],
                "variable": name[:80],
                "message": f"Unknown variable '{name[:80]}'. Use one of {', '.join(ALLOWED_VARIABLES)} "
                f"or {ATTRIBUTE_PREFIX}<key>.",
            }
        )
    default = None
    if filter_name is not None:
        if filter_name not in ALLOWED_FILTERS:
            ok = False
            errors.append(
                {
                    "code": "unknown_filter",
                    "token": token[:80],
                    "filter": filter_name[:40],
                    "message": f"Unknown filter '{filter_name[:40]}'; the only filter is default.",
                }
            )
        elif arg is None:
            ok = False
            errors.append(
                {
                    "code": "invalid_placeholder",
                    "token": token[:80],
                    "message": 'default needs a quoted value: {{ first_name|default:"there" }}.',
                }
            )
        else:
            default = _unquote(arg)
            if "{{" in default or "}}" in default:
                ok = False
                errors.append(
                    {
                        "code": "invalid_placeholder",
                        "token": token[:80],
                        "message": "A default value cannot contain a placeholder.",
                    }
                )
            elif len(default) > DEFAULT_MAX:
                ok = False
                errors.append(
                    {
                        "code": "default_too_long",
                        "token": token[:80],
                        "message": f"A default value is at most {DEFAULT_MAX} characters.",
                    }
                )
    return Placeholder(token=token, name=name, default=default) if ok else None


def is_allowed_variable(name: str) -> bool:
    if name in ALLOWED_VARIABLES:
        return True
    if name.startswith(ATTRIBUTE_PREFIX):
        return bool(_ATTRIBUTE_KEY_RE.match(name[len(ATTRIBUTE_PREFIX) :]))
    return False


def placeholders(text: str) -> list[Placeholder]:
    return [p for p in parse(text) if isinstance(p, Placeholder)]


def is_personalized(content: _HasCopy) -> bool:
    """Whether the title or body depends on the subscriber (copy that cannot be parsed counts as
    personalized: rendering it is what reports the problem)."""
    try:
        return bool(placeholders(content.title) or placeholders(content.body))
    except PersonalizationError:
        return True


def budget_length(text: str) -> int:
    """The length of ``text`` rendered with defaults (see the module docstring)."""
    return sum(len(p) if isinstance(p, str) else p.budget for p in parse(text))


def validate_copy(text: str, *, limit: int, field: str) -> list[dict]:
    """Problems with one piece of copy: syntax, variables, filters and the length limit."""
    try:
        length = budget_length(text)
    except PersonalizationError as exc:
        return exc.errors
    if length > limit:
        return [
            {
                "code": f"{field}_too_long",
                "length": length,
                "limit": limit,
                "message": f"The {field} is {length} characters long rendered with defaults (a variable "
                f"without a default counts as {VARIABLE_WITHOUT_DEFAULT_LENGTH}); the limit is "
                f"{limit}.",
            }
        ]
    return []


# -- rendering --------------------------------------------------------------------------------------
def _value(name: str, attributes: Mapping[str, Any]) -> str:
    if name.startswith(ATTRIBUTE_PREFIX):
        raw = attributes.get(name[len(ATTRIBUTE_PREFIX) :])
    elif name == "full_name" and not attributes.get("full_name"):
        raw = " ".join(
            str(attributes[k]).strip() for k in ("first_name", "last_name") if _scalar(attributes.get(k))
        )
    else:
        raw = attributes.get(name)
    if not _scalar(raw):
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    # Control characters (newlines included) have no place in a notification line.
    return _CONTROL_RE.sub(" ", str(raw)).strip()


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != ""


def render_text(text: str, attributes: Mapping[str, Any] | None, *, limit: int | None = None) -> str:
    """``text`` with each placeholder replaced by the subscriber's value, else its default, else ""."""
    attributes = attributes or {}
    out = []
    for part in parse(text):
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(_value(part.name, attributes) or (part.default or ""))
    rendered = _SPACES_RE.sub(" ", "".join(out)).strip()
    if limit is not None and len(rendered) > limit:
        rendered = rendered[: limit - 1].rstrip() + "…"
    return rendered


class _HasCopy(Protocol):
    title: str
    body: str


def render(content: _HasCopy, subscriber_attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """The title and body one subscriber sees, within the platform limits."""
    return {
        "title": render_text(content.title, subscriber_attributes, limit=TITLE_MAX),
        "body": render_text(content.body, subscriber_attributes, limit=BODY_MAX),
    }


# -- languages and variants -------------------------------------------------------------------------
def normalize_language(tag: str) -> str | None:
    """``en_in`` → ``en-IN``, ``zh-hant-tw`` → ``zh-Hant-TW``; None when it is not a language tag."""
    if not isinstance(tag, str):
        return None
    match = _LANGUAGE_RE.match(tag.strip().replace("_", "-"))
    if not match:
        return None
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def language_fallbacks(locale: str | None, default_language: str) -> list[str]:
    """Languages to try for a subscriber, best first: ``hi-IN`` → ``hi`` → the campaign default."""
    chain: list[str] = []
    for tag in (locale, default_language):
        normal = normalize_language(tag) if tag else None
        if not normal:
            continue
        pieces = normal.split("-")
        for n in range(len(pieces), 0, -1):
            candidate = "-".join(pieces[:n])
            if candidate not in chain:
                chain.append(candidate)
    return chain


class _Variant(Protocol):
    language: str
    weight: int


def contents_for_locale(contents: Sequence[_Variant], *, locale: str | None, default_language: str) -> list:
    """The active contents in the language that best fits ``locale``.

    Tries the exact tag, then its language alone, then any region of the same language, then the
    campaign's default language the same way, then all contents (a campaign always sends something)."""
    if not contents:
        return []
    by_language: dict[str, list] = {}
    for content in contents:
        by_language.setdefault((normalize_language(content.language) or content.language).lower(), []).append(
            content
        )
    for candidate in language_fallbacks(locale, default_language):
        exact = by_language.get(candidate.lower())
        if exact:
            return exact
        primary = candidate.split("-")[0].lower()
        same_language = [
            c for tag, group in by_language.items() if tag.split("-")[0] == primary for c in group
        ]
        if same_language and candidate == candidate.split("-")[0]:
            return same_language
    return list(contents)


def pick_variant(variants: Sequence[_Variant], *, key: str) -> Any | None:
    """One variant, chosen by weight and deterministically for ``key`` (e.g. campaign id + subscriber
    id): the same subscriber gets the same variant on every run and every retry."""
    weighted = [(v, max(int(v.weight), 0)) for v in variants]
    total = sum(w for _v, w in weighted)
    if total <= 0:
        return variants[0] if variants else None
    point = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % total
    for variant, weight in weighted:
        if point < weight:
            return variant
        point -= weight
    return weighted[-1][0]


def select_content(
    contents: Iterable[_Variant], *, locale: str | None, default_language: str, key: str
) -> Any | None:
    """The content one subscriber gets: language by locale with fallback, then the A/B variant.

    Only active contents are ever candidates (AI drafts stay inactive until a marketer activates
    them); items without ``is_active`` — the pipeline's snapshot of the active ones — count as active."""
    active = [c for c in contents if getattr(c, "is_active", True)]
    group = contents_for_locale(active, locale=locale, default_language=default_language)
    return pick_variant(group, key=key) if group else None
