"""Our own checks of the model's answer, whatever the provider promised about the schema.

Each variant must: parse as the schema's JSON; have a non-empty title and body; use only the allowed
placeholders and filters; fit ``max_title`` / ``max_body`` counted the way saved copy is
(``campaigns.content.validate_copy``: placeholders at their defaults); be in the requested language;
contain no emoji unless asked for. The language check has two parts: the variant's own ``language``
field must name the requested language, and for languages with a script of their own (Hindi →
Devanagari, Russian → Cyrillic, Japanese → kana/Han, …) most letters must be in that script, so copy
in the wrong alphabet is caught even when the model labels it correctly. Two Latin-script languages
(English vs Spanish) are told apart by the label only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from campaigns import content as personalization
from campaigns.ai.prompts import GenerationRequest

# Script of a language's usual writing, by the prefix of Unicode character names.
_SCRIPTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("hi", "mr", "ne", "sa", "kok", "mai"), ("DEVANAGARI",)),
    **dict.fromkeys(("bn", "as"), ("BENGALI",)),
    "ta": ("TAMIL",),
    "te": ("TELUGU",),
    "kn": ("KANNADA",),
    "ml": ("MALAYALAM",),
    "gu": ("GUJARATI",),
    "pa": ("GURMUKHI",),
    "or": ("ORIYA",),
    **dict.fromkeys(("ar", "fa", "ur", "ps"), ("ARABIC",)),
    "he": ("HEBREW",),
    **dict.fromkeys(("ru", "uk", "bg", "be", "kk", "mk", "mn", "ky", "tg"), ("CYRILLIC",)),
    "el": ("GREEK",),
    "th": ("THAI",),
    "zh": ("CJK",),
    "ja": ("CJK", "HIRAGANA", "KATAKANA"),
    "ko": ("HANGUL", "CJK"),
    **dict.fromkeys(
        (
            "en", "es", "fr", "de", "it", "pt", "nl", "sv", "da", "no", "nb", "nn", "fi", "pl", "cs",
            "sk", "hu", "ro", "tr", "id", "ms", "vi", "sw", "tl", "fil", "ca", "hr", "sl", "et", "lv",
            "lt", "ga", "is", "sq", "af", "eu", "gl", "cy",
        ),
        ("LATIN",),
    ),
}  # fmt: skip
_SCRIPT_SUBTAGS = {
    "Latn": ("LATIN",),
    "Cyrl": ("CYRILLIC",),
    "Deva": ("DEVANAGARI",),
    "Arab": ("ARABIC",),
    "Hans": ("CJK",),
    "Hant": ("CJK",),
    "Grek": ("GREEK",),
    "Hebr": ("HEBREW",),
    "Beng": ("BENGALI",),
}
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u203c\u2049\u3030]")
SCRIPT_SHARE = 0.5  # brand names in Latin letters inside Hindi copy are fine; mostly-Latin is not


@dataclass(frozen=True)
class Variant:
    title: str
    body: str
    language: str


def check_answer(answer: str, request: GenerationRequest) -> tuple[list[Variant], list[dict]]:
    """The variants the answer holds and every problem with them (empty when all is well)."""
    try:
        data = json.loads(answer)
    except (TypeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return [], [_problem(None, None, "invalid_json", "The answer is not valid JSON.")]
    raw = data.get("variants") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return [], [_problem(None, None, "invalid_shape", 'The answer has no "variants" list.')]
    variants: list[Variant] = []
    problems: list[dict] = []
    if len(raw) != request.variants:
        problems.append(
            _problem(
                None,
                None,
                "wrong_variant_count",
                f"The answer has {len(raw)} variants; exactly {request.variants} were asked for.",
            )
        )
    for index, item in enumerate(raw[: request.variants], start=1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("title", "body")):
            problems.append(_problem(index, None, "invalid_shape", f"Variant {index} lacks a title or body."))
            continue
        variant = Variant(
            title=item["title"].strip(),
            body=item["body"].strip(),
            language=str(item.get("language") or "").strip(),
        )
        variants.append(variant)
        problems.extend(_check_variant(index, variant, request))
    seen: set[tuple[str, str]] = set()
    for index, variant in enumerate(variants, start=1):
        key = (variant.title.casefold(), variant.body.casefold())
        if key in seen:
            problems.append(_problem(index, None, "duplicate_variant", f"Variant {index} repeats another."))
        seen.add(key)
    return variants, problems


def _check_variant(index: int, variant: Variant, request: GenerationRequest) -> list[dict]:
    problems: list[dict] = []
    for field, text, limit in (
        ("title", variant.title, request.max_title),
        ("body", variant.body, request.max_body),
    ):
        if not text:
            problems.append(
                _problem(index, field, f"empty_{field}", f"Variant {index} has an empty {field}.")
            )
            continue
        for problem in personalization.validate_copy(text, limit=limit, field=field):
            problems.append(_problem(index, field, problem["code"], f"Variant {index}: {problem['message']}"))
        if not request.include_emoji and _EMOJI.search(text):
            problems.append(
                _problem(index, field, "emoji_not_allowed", f"Variant {index}'s {field} contains emoji.")
            )
    problems.extend(_check_language(index, variant, request.language))
    return problems


def _check_language(index: int, variant: Variant, language: str) -> list[dict]:
    wanted = language.split("-")[0].lower()
    labelled = personalization.normalize_language(variant.language)
    if labelled is None or labelled.split("-")[0].lower() != wanted:
        return [
            _problem(
                index,
                "language",
                "wrong_language",
                f"Variant {index} says it is in '{variant.language[:35]}', not {language}.",
            )
        ]
    script = _expected_script(language)
    if script is None:
        return []
    letters = [ch for text in (variant.title, variant.body) for ch in _literal_text(text) if ch.isalpha()]
    if not letters:
        return []
    in_script = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(script))
    if in_script / len(letters) < SCRIPT_SHARE:
        return [
            _problem(
                index,
                "language",
                "wrong_language",
                f"Variant {index} is not written in {language}: most of its letters are not "
                f"{script[0].title()} script.",
            )
        ]
    return []


def _expected_script(language: str) -> tuple[str, ...] | None:
    parts = language.split("-")
    for part in parts[1:]:
        if len(part) == 4 and part.title() in _SCRIPT_SUBTAGS:
            return _SCRIPT_SUBTAGS[part.title()]
    return _SCRIPTS.get(parts[0].lower())


def _literal_text(text: str) -> str:
    """The copy without its placeholders (names like first_name are not words of the language)."""
    try:
        return "".join(p for p in personalization.parse(text) if isinstance(p, str))
    except personalization.PersonalizationError:
        return text


def _problem(variant: int | None, field: str | None, code: str, message: str) -> dict:
    problem: dict = {"code": code, "message": message}
    if variant is not None:
        problem["variant"] = variant
    if field is not None:
        problem["field"] = field
    return problem
