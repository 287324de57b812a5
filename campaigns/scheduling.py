"""RFC 5545 recurrence for campaigns: parse, evaluate on wall-clock time, and check plan limits.

How a schedule is evaluated (DESIGN.md "Scheduling"):

* The rule runs on *naive local* datetimes (the wall clock of the campaign's IANA zone), so 09:00
  stays 09:00 across DST. Each local occurrence is then given the zone with ``fold=0``, which is
  exactly RFC 5545 §3.3.5: a time inside a DST gap takes the offset from before the gap (02:30 on a
  spring-forward day in New York is 07:30Z = 03:30 EDT) and an ambiguous time in a fold is its
  first occurrence. Instants are strictly increasing: a local time whose instant is not after the
  previous occurrence's (the gap can map 02:00 and 03:00 onto the same instant) is dropped, so one
  instant never fires twice.
* ``DTSTART`` is the anchor of the rule and always zone-aware. A value with an offset (or ``Z``) is
  an instant; one without is wall-clock time in the zone. Like python-dateutil, a DTSTART that the
  rule does not generate is not an occurrence itself.
* ``UNTIL`` with ``Z`` is an instant and compared as one; a local ``UNTIL`` is compared on the wall
  clock; a DATE ``UNTIL`` includes that whole local day. ``COUNT`` counts generated instances before
  ``EXDATE`` removes any (RFC 5545 §3.8.5.1).
* Evaluation is bounded by a horizon. python-dateutil steps through a rule that can never match
  (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31``) until year 9999 without yielding — seconds of CPU — so
  its per-period iterator refuses to step past the horizon we set (see ``_BoundedIterInfo``).
"""

from __future__ import annotations

import contextlib
import re
import time as time_module
import zoneinfo
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import TYPE_CHECKING

import dateutil.rrule as _du
from django.conf import settings
from django.utils import timezone as dj_timezone

if TYPE_CHECKING:
    from campaigns.models import Campaign

MAX_RULE_CHARS = 4000
# DTSTART and EXDATE years we accept: far enough either way for any campaign, and far from the ends
# of Python's calendar (years 1 and 9999), where converting between zones overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_EXDATES = 1000
MAX_PREVIEW_COUNT = 100
# How many occurrences the frequency check looks at. Rules are periodic on the wall clock, so the
# closest pair of a rule shows up within its first few periods.
FREQUENCY_SAMPLE = 500
# How far evaluation looks for occurrences. 500 years covers a full 400-year Gregorian cycle with
# room (100 leap days span 408 years) and is cheap for rules stepping by weeks or more; rules
# stepping by days or less cost one dateutil iteration per day even when nothing matches, so they
# look 50 years ahead.
HORIZON_YEARS = {"YEARLY": 500, "MONTHLY": 500, "WEEKLY": 500}
HORIZON_YEARS_DEFAULT = 50

FREQUENCIES = {
    "YEARLY": _du.YEARLY,
    "MONTHLY": _du.MONTHLY,
    "WEEKLY": _du.WEEKLY,
    "DAILY": _du.DAILY,
    "HOURLY": _du.HOURLY,
    "MINUTELY": _du.MINUTELY,
    "SECONDLY": _du.SECONDLY,
}
WEEKDAYS = {"MO": _du.MO, "TU": _du.TU, "WE": _du.WE, "TH": _du.TH, "FR": _du.FR, "SA": _du.SA, "SU": _du.SU}
RULE_PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)

_BYDAY_RE = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_INT_RE = re.compile(r"^[+-]?\d{1,6}$")
_ICAL_DATETIME_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$")
_PROPERTY_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


class RuleError(ValueError):
    """A recurrence rule, DTSTART, EXDATE or time zone that cannot be used; ``part`` names where."""

    def __init__(self, message: str, *, part: str | None = None, code: str = "invalid_rrule"):
        super().__init__(message)
        self.message = message
        self.part = part
        self.code = code

    @property
    def details(self) -> dict:
        return {"part": self.part} if self.part else {}


# -- time zones and datetimes ----------------------------------------------------------------------
@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def get_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; RuleError(code="invalid_timezone") for anything else."""
    if not isinstance(name, str) or name not in _zone_names():
        raise RuleError(
            f"'{name}' is not an IANA time zone (for example Europe/Berlin).",
            part="timezone",
            code="invalid_timezone",
        )
    return zoneinfo.ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    return isinstance(name, str) and name in _zone_names()


def localize(local: datetime, zone: tzinfo) -> datetime:
    """Wall-clock ``local`` in ``zone`` as an aware datetime, per RFC 5545 §3.3.5.

    ``fold=0`` is the whole rule: in a gap PEP 495 applies the offset from before the transition,
    and in a fold it selects the first of the two instants."""
    return local.replace(tzinfo=zone, fold=0)


def to_local(instant: datetime, zone: tzinfo) -> datetime:
    """The naive wall-clock time of an aware ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


@dataclass(frozen=True)
class When:
    """A point given either as an instant (aware) or as wall-clock time (naive) in some zone."""

    value: datetime
    is_date: bool = False

    @property
    def is_instant(self) -> bool:
        return self.value.tzinfo is not None

    def local_in(self, zone: tzinfo) -> datetime:
        return to_local(self.value, zone) if self.is_instant else self.value

    def instant_in(self, zone: tzinfo) -> datetime:
        return self.value if self.is_instant else localize(self.value, zone)


def parse_when(value: str | datetime, *, part: str) -> When:
    """ISO 8601 ``2025-03-09T09:00:00`` (wall clock), ``…+01:00``/``…Z`` (instant) or a date."""
    if isinstance(value, datetime):
        return When(value.replace(microsecond=0))
    if not isinstance(value, str) or not value.strip():
        raise RuleError(
            f"{part} must be an ISO 8601 date-time such as 2025-03-09T09:00:00.",
            part=part,
            code="invalid_datetime",
        )
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time())
            _check_year(day, part=part, code="invalid_datetime")
            return When(day, is_date=True)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RuleError(
            f"{part} '{text[:40]}' is not an ISO 8601 date-time such as 2025-03-09T09:00:00.",
            part=part,
            code="invalid_datetime",
        ) from None
    if parsed.tzinfo is not None and parsed.utcoffset() is None:
        raise RuleError(f"{part} has an unusable offset.", part=part, code="invalid_datetime")
    _check_year(parsed, part=part, code="invalid_datetime")
    return When(parsed.replace(microsecond=0))


def _check_year(value: datetime, *, part: str, code: str) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise RuleError(f"{part} must be between the years {MIN_YEAR} and {MAX_YEAR}.", part=part, code=code)


def _parse_ical_datetime(text: str, *, part: str, tzid: str | None = None) -> When:
    match = _ICAL_DATETIME_RE.match(text.strip())
    if not match:
        raise RuleError(
            f"{part} value '{text[:40]}' is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS[Z]).",
            part=part,
        )
    y, mo, d, h, mi, s, utc = match.groups()
    try:
        if h is None:
            return When(datetime(int(y), int(mo), int(d)), is_date=True)
        value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        raise RuleError(f"{part} value '{text[:40]}' is not a real date or time.", part=part) from None
    if utc:
        return When(value.replace(tzinfo=UTC))
    if tzid:
        return When(localize(value, get_zone(tzid)))
    return When(value)


# -- parsing ---------------------------------------------------------------------------------------
@dataclass
class Rule:
    """A parsed RRULE (with the DTSTART and EXDATE lines that came with it, if any)."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: When | None = None
    bysecond: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byday: tuple[tuple[int | None, str], ...] = ()
    bymonthday: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: str | None = None
    dtstart: When | None = None
    dtstart_tzid: str | None = None
    exdates: list[When] = field(default_factory=list)

    @property
    def is_finite(self) -> bool:
        return self.count is not None or self.until is not None

    def value(self) -> str:
        """The canonical RRULE value (``FREQ=…;…``)."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            u = self.until.value
            if self.until.is_date:
                parts.append(f"UNTIL={u:%Y%m%d}")
            elif self.until.is_instant:
                parts.append(f"UNTIL={u.astimezone(UTC):%Y%m%dT%H%M%SZ}")
            else:
                parts.append(f"UNTIL={u:%Y%m%dT%H%M%S}")
        for name in ("bysecond", "byminute", "byhour"):
            if getattr(self, name):
                parts.append(f"{name.upper()}={','.join(map(str, getattr(self, name)))}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(f"{n if n else ''}{d}" for n, d in self.byday))
        for name in ("bymonthday", "byyearday", "byweekno", "bymonth", "bysetpos"):
            if getattr(self, name):
                parts.append(f"{name.upper()}={','.join(map(str, getattr(self, name)))}")
        if self.wkst:
            parts.append(f"WKST={self.wkst}")
        return ";".join(parts)


def _int_list(name: str, raw: str, low: int, high: int, *, signed: bool) -> tuple[int, ...]:
    values = []
    for item in raw.split(","):
        item = item.strip()
        if not _INT_RE.match(item):
            raise RuleError(f"{name} takes comma-separated integers; '{item[:20]}' is not one.", part=name)
        number = int(item)
        in_range = (number != 0 and low <= abs(number) <= high) if signed else low <= number <= high
        if not in_range:
            span = f"±{low}..±{high}" if signed else f"{low}..{high}"
            raise RuleError(f"{name} value {item} is out of range ({span}).", part=name)
        values.append(number)
    if len(values) > 400:
        raise RuleError(f"{name} lists too many values.", part=name)
    return tuple(dict.fromkeys(values))


def parse_rule_value(text: str) -> Rule:
    """Parse an RRULE value such as ``FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=9``."""
    raw = text.strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    if not raw:
        raise RuleError("The recurrence rule is empty; it must start with FREQ=…", part="FREQ")
    seen: dict[str, str] = {}
    for piece in raw.strip(";").split(";"):
        if "=" not in piece:
            raise RuleError(
                f"'{piece[:30]}' is not NAME=VALUE; rule parts are separated by ';'.", part=piece[:30]
            )
        name, _, value = piece.partition("=")
        name = name.strip().upper()
        value = value.strip()
        if name not in RULE_PARTS:
            raise RuleError(
                f"Unknown rule part '{name[:30]}'; RFC 5545 parts are {', '.join(RULE_PARTS)}.",
                part=name[:30],
            )
        if name in seen:
            raise RuleError(f"{name} appears more than once.", part=name)
        if not value:
            raise RuleError(f"{name} has no value.", part=name)
        seen[name] = value

    if "FREQ" not in seen:
        raise RuleError(
            "FREQ is required (YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY or SECONDLY).", part="FREQ"
        )
    freq = seen["FREQ"].upper()
    if freq not in FREQUENCIES:
        raise RuleError(f"FREQ={seen['FREQ'][:20]} is not one of {', '.join(FREQUENCIES)}.", part="FREQ")
    rule = Rule(freq=freq)

    if "INTERVAL" in seen:
        rule.interval = _int_list("INTERVAL", seen["INTERVAL"], 1, 10_000, signed=False)[0]
        if "," in seen["INTERVAL"]:
            raise RuleError("INTERVAL takes one positive integer.", part="INTERVAL")
    if "COUNT" in seen:
        if "," in seen["COUNT"]:
            raise RuleError("COUNT takes one positive integer.", part="COUNT")
        rule.count = _int_list("COUNT", seen["COUNT"], 1, 100_000, signed=False)[0]
    if "UNTIL" in seen:
        if "COUNT" in seen:
            raise RuleError("COUNT and UNTIL cannot both be given (RFC 5545 §3.3.10).", part="UNTIL")
        rule.until = _parse_ical_datetime(seen["UNTIL"], part="UNTIL")
        if rule.until.value.year < MIN_YEAR:
            raise RuleError(f"UNTIL must not be before the year {MIN_YEAR}.", part="UNTIL")
    if "BYSECOND" in seen:
        rule.bysecond = _int_list("BYSECOND", seen["BYSECOND"], 0, 59, signed=False)
    if "BYMINUTE" in seen:
        rule.byminute = _int_list("BYMINUTE", seen["BYMINUTE"], 0, 59, signed=False)
    if "BYHOUR" in seen:
        rule.byhour = _int_list("BYHOUR", seen["BYHOUR"], 0, 23, signed=False)
    if "BYMONTHDAY" in seen:
        rule.bymonthday = _int_list("BYMONTHDAY", seen["BYMONTHDAY"], 1, 31, signed=True)
    if "BYYEARDAY" in seen:
        rule.byyearday = _int_list("BYYEARDAY", seen["BYYEARDAY"], 1, 366, signed=True)
    if "BYWEEKNO" in seen:
        rule.byweekno = _int_list("BYWEEKNO", seen["BYWEEKNO"], 1, 53, signed=True)
    if "BYMONTH" in seen:
        rule.bymonth = _int_list("BYMONTH", seen["BYMONTH"], 1, 12, signed=False)
    if "BYSETPOS" in seen:
        rule.bysetpos = _int_list("BYSETPOS", seen["BYSETPOS"], 1, 366, signed=True)
    if "WKST" in seen:
        wkst = seen["WKST"].upper()
        if wkst not in WEEKDAYS:
            raise RuleError(
                f"WKST={seen['WKST'][:10]} is not a weekday (MO, TU, WE, TH, FR, SA, SU).", part="WKST"
            )
        rule.wkst = wkst
    if "BYDAY" in seen:
        days = []
        for item in seen["BYDAY"].split(","):
            match = _BYDAY_RE.match(item.strip().upper())
            if not match:
                raise RuleError(
                    f"BYDAY value '{item[:20]}' is not a weekday with an optional ordinal (MO, 2TU, -1FR).",
                    part="BYDAY",
                )
            sign, number, day = match.groups()
            ordinal = None
            if number is not None:
                ordinal = int(number) * (-1 if sign == "-" else 1)
                if not 1 <= abs(ordinal) <= 53:
                    raise RuleError(
                        f"BYDAY ordinal in '{item}' must be between 1 and 53 (or -1 and -53).", part="BYDAY"
                    )
            elif sign:
                raise RuleError(f"BYDAY value '{item}' has a sign but no ordinal.", part="BYDAY")
            days.append((ordinal, day))
        rule.byday = tuple(dict.fromkeys(days))

    _check_combinations(rule)
    return rule


def _check_combinations(rule: Rule) -> None:
    """The MUST NOTs of RFC 5545 §3.3.10 that python-dateutil would silently accept."""
    freq = rule.freq
    if any(n is not None for n, _ in rule.byday):
        if freq not in ("MONTHLY", "YEARLY"):
            raise RuleError(
                f"BYDAY ordinals such as 2MO or -1FR need FREQ=MONTHLY or FREQ=YEARLY, not {freq}.",
                part="BYDAY",
            )
        if freq == "YEARLY" and rule.byweekno:
            raise RuleError("BYDAY ordinals cannot be combined with BYWEEKNO.", part="BYDAY")
        if freq == "MONTHLY" or rule.bymonth:  # the ordinal counts within a month: at most 5 of a weekday
            worst = max(abs(n) for n, _ in rule.byday if n is not None)
            if worst > 5:
                raise RuleError(
                    f"BYDAY ordinal {worst} cannot occur within a month (at most 5).", part="BYDAY"
                )
    if rule.bymonthday and freq == "WEEKLY":
        raise RuleError("BYMONTHDAY cannot be used with FREQ=WEEKLY.", part="BYMONTHDAY")
    if rule.byyearday and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RuleError(f"BYYEARDAY cannot be used with FREQ={freq}.", part="BYYEARDAY")
    if rule.byweekno and freq != "YEARLY":
        raise RuleError("BYWEEKNO can only be used with FREQ=YEARLY.", part="BYWEEKNO")
    if rule.bysetpos and freq in ("HOURLY", "MINUTELY", "SECONDLY"):
        # BYSETPOS picks from the instances of one period; below a day a period holds few of them.
        expanding = {"HOURLY": (rule.byminute, rule.bysecond), "MINUTELY": (rule.bysecond,), "SECONDLY": ()}[
            freq
        ]
        size = 1
        for values in expanding:
            size *= len(values) or 1
        if min(abs(p) for p in rule.bysetpos) > size:
            raise RuleError(
                f"BYSETPOS can never match: each {freq.lower()[:-2] or 'second'} period has at most "
                f"{size} instance{'s' if size > 1 else ''}.",
                part="BYSETPOS",
            )
    if rule.bysetpos and not any(
        (
            rule.bysecond,
            rule.byminute,
            rule.byhour,
            rule.byday,
            rule.bymonthday,
            rule.byyearday,
            rule.byweekno,
            rule.bymonth,
        )
    ):
        raise RuleError("BYSETPOS needs another BYxxx rule part to select from.", part="BYSETPOS")


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _split_property(line: str) -> tuple[str, dict[str, str], str]:
    head, sep, value = line.partition(":")
    if not sep:
        raise RuleError(f"Line '{line[:40]}' is not NAME:VALUE.", part=line[:20])
    name, *params = head.split(";")
    name = name.strip().upper()
    if not _PROPERTY_NAME_RE.match(name):
        raise RuleError(f"'{name[:30]}' is not a property name.", part=name[:30])
    parsed = {}
    for param in params:
        key, eq, val = param.partition("=")
        if not eq:
            raise RuleError(f"Parameter '{param[:30]}' of {name} is not NAME=VALUE.", part=name)
        parsed[key.strip().upper()] = val.strip().strip('"')
    return name, parsed, value.strip()


def _parse_dated(name: str, params: dict[str, str], value: str) -> list[When]:
    tzid = params.get("TZID")
    if tzid is not None and not is_valid_zone(tzid):
        raise RuleError(f"{name} TZID '{tzid[:40]}' is not an IANA time zone.", part=name)
    unknown = set(params) - {"TZID", "VALUE"}
    if unknown:
        raise RuleError(
            f"{name} parameter {sorted(unknown)[0]} is not supported (TZID and VALUE are).", part=name
        )
    kind = params.get("VALUE", "DATE-TIME").upper()
    if kind not in ("DATE", "DATE-TIME"):
        raise RuleError(f"{name};VALUE={kind} is not supported (DATE or DATE-TIME).", part=name)
    whens = [_parse_ical_datetime(item, part=name, tzid=tzid) for item in value.split(",") if item.strip()]
    for when in whens:
        _check_year(when.value, part=name, code="invalid_rrule")
    if not whens:
        raise RuleError(f"{name} has no value.", part=name)
    for when in whens:
        if (kind == "DATE") != when.is_date:
            raise RuleError(f"{name} value does not match VALUE={kind}.", part=name)
    return whens


def parse_rule(text: str) -> Rule:
    """Parse an RRULE value (``FREQ=…``) or RFC 5545 lines (``DTSTART``, ``RRULE``, ``EXDATE``)."""
    if not isinstance(text, str):
        raise RuleError("The recurrence rule must be a string.")
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(f"The recurrence rule is longer than {MAX_RULE_CHARS} characters.")
    lines = _unfold(text)
    if not lines:
        raise RuleError("The recurrence rule is empty; it must start with FREQ=…", part="FREQ")
    rule: Rule | None = None
    dtstart: When | None = None
    dtstart_tzid: str | None = None
    exdates: list[When] = []
    for line in lines:
        if ":" not in line:  # a bare RRULE value: FREQ=…;… (parts in any order)
            name, params, value = "RRULE", {}, line
        else:
            name, params, value = _split_property(line)
        if name == "RRULE":
            if rule is not None:
                raise RuleError("Only one RRULE line is supported.", part="RRULE")
            if params:
                raise RuleError("RRULE takes no parameters.", part="RRULE")
            rule = parse_rule_value(value)
        elif name == "DTSTART":
            if dtstart is not None:
                raise RuleError("DTSTART appears more than once.", part="DTSTART")
            dtstart = _parse_dated(name, params, value)[0]
            dtstart_tzid = params.get("TZID")
        elif name == "EXDATE":
            exdates.extend(_parse_dated(name, params, value))
        elif name in ("RDATE", "EXRULE"):
            raise RuleError(f"{name} is not supported; use one RRULE with EXDATE.", part=name)
        else:
            raise RuleError(f"Unknown line '{name[:30]}'; expected DTSTART, RRULE or EXDATE.", part=name[:30])
    if rule is None:
        raise RuleError("An RRULE line (RRULE:FREQ=…) is required.", part="RRULE")
    if len(exdates) > MAX_EXDATES:
        raise RuleError(f"At most {MAX_EXDATES} EXDATE values are supported.", part="EXDATE")
    if dtstart is not None and dtstart.is_date:
        dtstart = When(dtstart.value)  # midnight, wall clock
    rule.dtstart = dtstart
    rule.dtstart_tzid = dtstart_tzid
    rule.exdates = exdates
    return rule


# -- evaluation ------------------------------------------------------------------------------------
_horizon: ContextVar[tuple[int, int, int] | None] = ContextVar("pushpilot_rrule_horizon", default=None)
# Periods dateutil may step through in search of ONE occurrence. Real rules need a few thousand at
# most (an hourly rule on leap days: one period per day for 8 years); rules that step by the second
# through periods that can never match (FREQ=SECONDLY;BYMONTH=… from the wrong month) would spin
# for hours without it.
PERIODS_PER_OCCURRENCE = 50_000
_budget: ContextVar[list[int] | None] = ContextVar("pushpilot_rrule_budget", default=None)
# And a deadline for one evaluation: below a day dateutil can spend milliseconds inside a single
# period (FREQ=SECONDLY with BYHOUR searches up to 86,400 seconds for the next valid one).
EVALUATION_SECONDS = 2.0
_deadline: ContextVar[float | None] = ContextVar("pushpilot_rrule_deadline", default=None)


class _HorizonReached(Exception):
    pass


class _TooExpensive(Exception):
    pass


class _BoundedIterInfo(_du._iterinfo):  # type: ignore[name-defined,misc]
    """python-dateutil's per-period helper, refusing to step past the horizon set in ``_horizon``.

    ``rrule._iter`` asks for each period's day set before it filters the period, so this is the one
    place every iteration passes through, including those that never yield an occurrence."""

    # No __slots__ here: the parent's __init__ initialises ``self.__slots__``, which must stay its own.

    def _guard(self, year: int, month: int, day: int) -> None:
        limit = _horizon.get()
        if limit is not None and (year, month, day) > limit:
            raise _HorizonReached
        budget = _budget.get()
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise _HorizonReached
        deadline = _deadline.get()
        if deadline is not None and time_module.monotonic() > deadline:
            raise _TooExpensive

    def ydayset(self, year, month, day):
        self._guard(year, month, day)
        return super().ydayset(year, month, day)

    def mdayset(self, year, month, day):
        self._guard(year, month, day)
        return super().mdayset(year, month, day)

    def wdayset(self, year, month, day):
        self._guard(year, month, day)
        return super().wdayset(year, month, day)

    def ddayset(self, year, month, day):
        self._guard(year, month, day)
        return super().ddayset(year, month, day)


# Outside a bounded evaluation (``_horizon`` unset) it behaves exactly like the original.
_du._iterinfo = _BoundedIterInfo


@dataclass(frozen=True)
class Schedule:
    """A rule bound to a wall-clock DTSTART in a zone: the thing that yields occurrence instants."""

    rule: Rule
    zone: zoneinfo.ZoneInfo
    dtstart_local: datetime
    extra_exdates: tuple[When, ...] = ()

    @property
    def horizon_years(self) -> int:
        return HORIZON_YEARS.get(self.rule.freq, HORIZON_YEARS_DEFAULT)

    @property
    def dtstart(self) -> datetime:
        """DTSTART as an instant, shown in the zone (normalised through UTC, see ``iter_pairs``)."""
        return _utc(localize(self.dtstart_local, self.zone)).astimezone(self.zone)

    def _dateutil_rule(self) -> _du.rrule:
        r = self.rule
        until = None
        if r.until is not None and r.until.value.year <= MAX_YEAR:  # a later UNTIL is no bound at all
            if r.until.is_date:
                until = datetime.combine(r.until.value.date(), time(23, 59, 59))
            elif r.until.is_instant:
                # A wide wall-clock bound; the exact instant comparison happens in ``_instants``. Two
                # days cover any UTC offset difference a zone can have across the bound.
                until = to_local(r.until.value, self.zone) + timedelta(days=2)
            else:
                until = r.until.value
        kwargs: dict = {
            "dtstart": self.dtstart_local,
            "interval": r.interval,
            "count": r.count,
            "until": until,
            "cache": False,
        }
        if r.wkst:
            kwargs["wkst"] = WEEKDAYS[r.wkst]
        if r.byday:
            kwargs["byweekday"] = [WEEKDAYS[d](n) if n else WEEKDAYS[d] for n, d in r.byday]
        for name in (
            "bysecond",
            "byminute",
            "byhour",
            "bymonthday",
            "byyearday",
            "byweekno",
            "bymonth",
            "bysetpos",
        ):
            if getattr(r, name):
                kwargs[name] = list(getattr(r, name))
        try:
            return _du.rrule(FREQUENCIES[r.freq], **kwargs)
        except ValueError as exc:  # e.g. an INTERVAL that can never meet BYHOUR
            raise RuleError(f"The rule can never produce an occurrence: {exc}") from None

    def _excluded(self) -> tuple[set[datetime], set[datetime], set[date]]:
        local, instants, days = set(), set(), set()
        for when in (*self.rule.exdates, *self.extra_exdates):
            if when.is_date:
                days.add(when.value.date())
            elif when.is_instant:
                instants.add(_utc(when.value))
            else:
                local.add(when.value)
        return local, instants, days

    def iter_pairs(self, *, horizon: datetime) -> Iterator[tuple[datetime, datetime]]:
        """(naive local, instant in UTC) for each occurrence, in order, up to about ``horizon``.

        Instants are compared in UTC only: Python compares two datetimes that share a tzinfo by
        their wall clocks, which is wrong exactly around the DST changes this module is about."""
        limit_local = horizon if horizon.tzinfo is None else to_local(horizon, self.zone)
        stop_local = limit_local + timedelta(days=2)
        bound = stop_local.timetuple()[:3]
        until = self.rule.until
        until_utc = _utc(until.value) if until and until.is_instant and until.value.year <= MAX_YEAR else None
        ex_local, ex_instants, ex_days = self._excluded()
        previous: datetime | None = None
        generator = iter(self._dateutil_rule())
        deadline = time_module.monotonic() + EVALUATION_SECONDS
        while True:
            token = _horizon.set(bound)
            budget_token = _budget.set([PERIODS_PER_OCCURRENCE])
            deadline_token = _deadline.set(deadline)
            try:
                local = next(generator)
            except (StopIteration, _HorizonReached):
                return
            except _TooExpensive:
                raise RuleError(
                    "The rule takes too long to evaluate: it steps through many periods that "
                    "rarely match. Use a coarser FREQ (HOURLY, DAILY, …) with BYxxx parts.",
                    part="FREQ",
                ) from None
            except (ValueError, OverflowError, IndexError) as exc:  # dateutil gives up on the rule
                raise RuleError(f"The rule cannot be evaluated: {exc}") from None
            finally:
                _deadline.reset(deadline_token)
                _budget.reset(budget_token)
                _horizon.reset(token)
            if local > stop_local:
                return
            instant = _utc(localize(local, self.zone))
            if until_utc is not None and instant > until_utc:
                # Wall-clock order and instant order differ only inside one DST gap, so nothing
                # a day later can come back under an UNTIL instant.
                if local > to_local(until_utc, self.zone) + timedelta(days=1):
                    return
                continue
            if previous is not None and instant <= previous:
                continue  # a gap time whose instant an earlier occurrence already has
            previous = instant
            if local in ex_local or local.date() in ex_days or instant in ex_instants:
                continue
            yield local, instant

    def occurrences(
        self,
        *,
        after: datetime | None = None,
        count: int,
        horizon: datetime | None = None,
        inclusive: bool = False,
        rebase: bool = True,
    ) -> list[datetime]:
        """Up to ``count`` occurrence instants (aware, in the zone) after ``after`` (or at it, when
        ``inclusive``), no later than ``horizon`` (default: the rule's horizon, HORIZON_YEARS).
        ``rebase`` starts the walk shortly before ``after`` instead of at DTSTART (see ``rebased``)."""
        after_utc = _utc(after) if after is not None else None
        if after is not None and rebase:
            return self.rebased(to_local(after, self.zone))._occurrences(after_utc, count, horizon, inclusive)
        return self._occurrences(after_utc, count, horizon, inclusive)

    def _occurrences(self, after_utc, count, horizon, inclusive) -> list[datetime]:
        if horizon is None:
            start = max(self.dtstart, after_utc) if after_utc else self.dtstart
            horizon = _years_after(start, self.horizon_years)
        horizon_utc = _utc(horizon)
        out = []
        for _local, instant in self.iter_pairs(horizon=horizon):
            if after_utc is not None and (instant < after_utc or (instant == after_utc and not inclusive)):
                continue
            if instant > horizon_utc:
                break
            out.append(instant.astimezone(self.zone))
            if len(out) >= count:
                break
        return out

    def rebased(self, target_local: datetime) -> Schedule:
        """The same schedule with DTSTART moved forward by whole INTERVAL steps to shortly before
        ``target_local``: identical occurrences from there on, without walking every earlier one
        (a 5-minute rule running for a year has 100,000 of them).

        It is the same rule because everything dateutil derives from DTSTART is kept: the INTERVAL
        grid (moved by multiples of the step) and the defaults taken from DTSTART (weekday, day of
        month, month, time of day). COUNT rules count from the original DTSTART, and a DTSTART on a
        day that not every month or year has (the 29th-31st, 29 February) cannot move; both stay."""
        rule, start = self.rule, self.dtstart_local
        target = target_local - timedelta(days=3)  # margin for UTC offsets and DST around ``after``
        if rule.count is not None or target <= start:
            return self
        n = rule.interval
        steps = {
            "WEEKLY": timedelta(weeks=n),
            "DAILY": timedelta(days=n),
            "HOURLY": timedelta(hours=n),
            "MINUTELY": timedelta(minutes=n),
            "SECONDLY": timedelta(seconds=n),
        }
        if rule.freq in steps:
            step = steps[rule.freq]
            moved = start + ((target - start) // step) * step
        elif rule.freq == "MONTHLY":
            if start.day > 28:
                return self
            months = ((target.year - start.year) * 12 + target.month - start.month) // n * n
            if (
                start.replace(
                    year=start.year + (start.month - 1 + months) // 12,
                    month=(start.month - 1 + months) % 12 + 1,
                )
                > target
            ):
                months -= n
            moved = start.replace(
                year=start.year + (start.month - 1 + months) // 12, month=(start.month - 1 + months) % 12 + 1
            )
        else:  # YEARLY
            if (start.month, start.day) == (2, 29):
                return self
            years = (target.year - start.year) // n * n
            if start.replace(year=start.year + years) > target:
                years -= n
            moved = start.replace(year=start.year + years)
        if moved <= start:
            return self
        return Schedule(rule=self.rule, zone=self.zone, dtstart_local=moved, extra_exdates=self.extra_exdates)

    def min_gap(self, sample: int = FREQUENCY_SAMPLE) -> tuple[timedelta, datetime, datetime] | None:
        """The smallest wall-clock distance between consecutive occurrences among the first ``sample``.

        Wall clock, not instants: a DST change can bring two occurrences of a daily rule (01:55 and
        03:00) five real minutes together once a year, which says nothing about how often the rule
        fires."""
        best = None
        previous = None
        horizon = _years_after(self.dtstart, self.horizon_years)
        for index, (local, instant) in enumerate(self.iter_pairs(horizon=horizon)):
            if index >= sample:
                break
            if previous is not None:
                gap = local - previous[0]
                if best is None or gap < best[0]:
                    best = (gap, previous[1].astimezone(self.zone), instant.astimezone(self.zone))
            previous = (local, instant)
        return best


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _years_after(moment: datetime, years: int) -> datetime:
    year = min(moment.year + years, 9998)
    try:
        return moment.replace(year=year)
    except ValueError:  # 29 February
        return moment.replace(year=year, day=28)


def build_schedule(
    *,
    rule: str | Rule,
    timezone: str | None,
    dtstart: str | datetime | When | None = None,
    exdates: list[str] | None = None,
) -> Schedule:
    """Bind a rule to its DTSTART and zone.

    ``dtstart`` given here wins over a DTSTART line inside the rule. ``timezone`` falls back to the
    DTSTART line's TZID. Raises RuleError."""
    parsed = parse_rule(rule) if isinstance(rule, str) else rule
    zone_name = timezone or parsed.dtstart_tzid
    if not zone_name:
        raise RuleError(
            "A time zone is required (an IANA name such as Europe/Berlin).",
            part="timezone",
            code="invalid_timezone",
        )
    zone = get_zone(zone_name)
    if dtstart is None:
        when = parsed.dtstart
    elif isinstance(dtstart, When):
        when = dtstart
    else:
        when = parse_when(dtstart, part="dtstart")
    if when is None:
        raise RuleError("DTSTART is required: give scheduled_at/dtstart or a DTSTART line.", part="DTSTART")
    extra = tuple(parse_when(x, part="exdates") for x in (exdates or []))
    if len(extra) + len(parsed.exdates) > MAX_EXDATES:
        raise RuleError(f"At most {MAX_EXDATES} EXDATE values are supported.", part="EXDATE")
    schedule = Schedule(rule=parsed, zone=zone, dtstart_local=when.local_in(zone), extra_exdates=extra)
    schedule._dateutil_rule()  # surfaces dateutil's own refusals as RuleError now
    return schedule


# -- plan limits -------------------------------------------------------------------------------------
def plan_min_interval(plan: str) -> timedelta:
    minutes = settings.PUSHPILOT_PLAN_MIN_INTERVAL_MINUTES
    return timedelta(minutes=minutes.get(plan, minutes.get("free", 15)))


def max_schedule_ahead() -> timedelta:
    return timedelta(days=settings.PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)


def check_frequency(schedule: Schedule, *, plan: str) -> Verdict:
    minimum = plan_min_interval(plan)
    found = schedule.min_gap()
    if found is None or found[0] >= minimum:
        return Verdict(True)
    return _too_frequent(*found, plan=plan, minimum=minimum)


def _too_frequent(
    gap: timedelta, first: datetime, second: datetime, *, plan: str, minimum: timedelta
) -> Verdict:
    return Verdict(
        False,
        "recurrence_too_frequent",
        f"The rule fires every {_human(gap)} (for example {first.isoformat()} and {second.isoformat()}); "
        f"the {plan} plan allows at most one send every {_human(minimum)}.",
        {
            "plan": plan,
            "min_interval_minutes": int(minimum.total_seconds() // 60),
            "found_interval_seconds": int(gap.total_seconds()),
            "between": [first.isoformat(), second.isoformat()],
        },
    )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds > 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def check_window(first: datetime | None, *, now: datetime) -> Verdict:
    """The first run must be in the future and no further than the plan's look-ahead."""
    if first is None:
        return Verdict(
            False,
            "schedule_no_occurrence",
            "The schedule has no occurrence after now (check COUNT, UNTIL, EXDATE and the rule parts).",
        )
    if first <= now:
        return Verdict(
            False,
            "schedule_in_past",
            f"{first.isoformat()} is in the past.",
            {"scheduled_at": first.isoformat()},
        )
    if first - now > max_schedule_ahead():
        days = settings.PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS
        return Verdict(
            False,
            "schedule_too_far",
            f"{first.isoformat()} is more than {days} days ahead; schedule at most {days} days ahead.",
            {"scheduled_at": first.isoformat(), "max_days_ahead": days},
        )
    return Verdict(True)


@dataclass(frozen=True)
class Plan:
    """What scheduling a campaign would do: its first run instant, or why it cannot be scheduled."""

    next_run_at: datetime | None
    verdict: Verdict


def plan_recurring(schedule: Schedule, *, plan: str, now: datetime | None = None) -> Plan:
    """First-run checks for a recurring schedule: DTSTART not in the past, an occurrence within the
    look-ahead, and no two occurrences closer than the plan's minimum interval."""
    now = now or dj_timezone.now()
    if schedule.dtstart <= now:
        return Plan(
            None,
            Verdict(
                False,
                "schedule_in_past",
                f"DTSTART {schedule.dtstart.isoformat()} is in the past; a recurring schedule "
                "starts in the future.",
                {"dtstart": schedule.dtstart.isoformat()},
            ),
        )
    # The look-ahead window first: it is bounded by a year, so a rule that can never fire is refused
    # before the frequency check walks its first occurrences.
    first = schedule.occurrences(after=now, count=1, horizon=now + max_schedule_ahead() + timedelta(days=1))
    if not first:
        # Say "too far" rather than "never" when an occurrence exists beyond the look-ahead.
        later = schedule.occurrences(after=now, count=1)
        return Plan(None, check_window(later[0] if later else None, now=now))
    window = check_window(first[0], now=now)
    if not window.ok:
        return Plan(None, window)
    frequency = check_frequency(schedule, plan=plan)
    if not frequency.ok:
        return Plan(None, frequency)
    return Plan(first[0], window)


def plan_once(at: datetime, *, now: datetime | None = None) -> Plan:
    now = now or dj_timezone.now()
    window = check_window(at, now=now)
    return Plan(at if window.ok else None, window)


def preview(schedule: Schedule, *, count: int, plan: str) -> dict:
    """Occurrences from DTSTART (past included) and whether the plan allows scheduling the rule.

    One pass serves both the listing and the frequency check, so a rule that never fires walks its
    horizon once."""
    minimum = plan_min_interval(plan)
    horizon = _years_after(schedule.dtstart, schedule.horizon_years)
    occurrences: list[str] = []
    closest: tuple[timedelta, datetime, datetime] | None = None
    previous: tuple[datetime, datetime] | None = None
    for index, (local, instant) in enumerate(schedule.iter_pairs(horizon=horizon)):
        if index >= max(count, FREQUENCY_SAMPLE):
            break
        if index < count:
            occurrences.append(instant.astimezone(schedule.zone).isoformat())
        if previous is not None and (closest is None or local - previous[0] < closest[0]):
            closest = (local - previous[0], previous[1], instant)
        previous = (local, instant)
    verdict = Verdict(True)
    if closest is not None and closest[0] < minimum:
        verdict = _too_frequent(
            closest[0],
            closest[1].astimezone(schedule.zone),
            closest[2].astimezone(schedule.zone),
            plan=plan,
            minimum=minimum,
        )
    return {
        "occurrences": occurrences,
        "timezone": schedule.zone.key,
        "dtstart": schedule.dtstart.isoformat(),
        "rule": schedule.rule.value(),
        "schedulable": verdict.ok,
        "reason": verdict.reason,
        "reason_code": verdict.code,
    }


# -- campaigns -----------------------------------------------------------------------------------------
def campaign_schedule_for(campaign: Campaign) -> Schedule | None:
    """The recurrence Schedule of a recurring campaign, from its stored rule, anchor and zone."""
    if not campaign.recurrence_rule or campaign.scheduled_at is None:
        return None
    dtstart = (
        When(datetime.fromisoformat(campaign.scheduled_local))
        if campaign.scheduled_local
        else When(campaign.scheduled_at)
    )
    return build_schedule(rule=campaign.recurrence_rule, timezone=campaign.timezone, dtstart=dtstart)


def next_occurrence(campaign: Campaign, after: datetime) -> datetime | None:
    """The campaign's first run instant strictly after ``after`` (aware, UTC), or None when its
    schedule has no more runs. Recurring: the rule's next occurrence; scheduled: ``scheduled_at``.

    The send pipeline calls this after each run (``after`` = the run's due time) to create the next
    ScheduledJob; None means the run just done was the last one."""
    from campaigns.models import ScheduleType

    if campaign.schedule_type == ScheduleType.RECURRING:
        schedule = campaign_schedule_for(campaign)
        if schedule is None:
            return None
        with contextlib.suppress(RuleError):
            found = schedule.occurrences(after=after, count=1)
            return found[0].astimezone(UTC) if found else None
        return None
    if (
        campaign.schedule_type == ScheduleType.SCHEDULED
        and campaign.scheduled_at
        and campaign.scheduled_at > after
    ):
        return campaign.scheduled_at
    return None
