"""RFC 5545 semantics of campaigns.scheduling, with fixed DTSTARTs (no clock involved)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from campaigns import scheduling
from campaigns.scheduling import RuleError, build_schedule

# Pure functions; the marker only lets the package's autouse fixtures (base schema) reach the database.
pytestmark = pytest.mark.django_db


def occ(rule: str, dtstart: str | None, tz: str | None, count: int = 10, exdates=None) -> list[str]:
    schedule = build_schedule(rule=rule, timezone=tz, dtstart=dtstart, exdates=exdates)
    return [o.isoformat() for o in schedule.occurrences(after=schedule.dtstart, count=count, inclusive=True)]


# -- wall clock across DST -------------------------------------------------------------------------------
def test_daily_0900_stays_0900_across_spring_forward_in_new_york():
    assert occ("FREQ=DAILY", "2025-03-07T09:00:00", "America/New_York", 4) == [
        "2025-03-07T09:00:00-05:00",
        "2025-03-08T09:00:00-05:00",
        "2025-03-09T09:00:00-04:00",
        "2025-03-10T09:00:00-04:00",
    ]


def test_daily_0900_stays_0900_across_fall_back_in_new_york():
    assert occ("FREQ=DAILY", "2025-11-01T09:00:00", "America/New_York", 3) == [
        "2025-11-01T09:00:00-04:00",
        "2025-11-02T09:00:00-05:00",
        "2025-11-03T09:00:00-05:00",
    ]


def test_weekly_0900_stays_0900_across_both_dst_changes_in_berlin():
    spring = occ("FREQ=WEEKLY;BYDAY=SU", "2025-03-23T09:00:00", "Europe/Berlin", 2)
    assert spring == ["2025-03-23T09:00:00+01:00", "2025-03-30T09:00:00+02:00"]
    autumn = occ("FREQ=WEEKLY;BYDAY=SU", "2025-10-19T09:00:00", "Europe/Berlin", 2)
    assert autumn == ["2025-10-19T09:00:00+02:00", "2025-10-26T09:00:00+01:00"]


def test_instants_are_real_utc_instants():
    schedule = build_schedule(
        rule="FREQ=DAILY;COUNT=2", timezone="America/New_York", dtstart="2025-03-08T09:00:00"
    )
    first, second = schedule.occurrences(after=schedule.dtstart, count=2, inclusive=True)
    assert first.astimezone(UTC) == datetime(2025, 3, 8, 14, 0, tzinfo=UTC)
    assert second.astimezone(UTC) == datetime(2025, 3, 9, 13, 0, tzinfo=UTC)
    # Subtract in UTC: Python subtracts two datetimes of one tzinfo on their wall clocks.
    assert (second.astimezone(UTC) - first.astimezone(UTC)).total_seconds() == 23 * 3600  # the short day


# -- RFC 5545 §3.3.5: gaps and folds -------------------------------------------------------------------------
def test_local_time_in_spring_gap_uses_the_offset_before_the_gap():
    # 02:30 does not exist on 2025-03-09 in New York: it is 02:30 EST = 07:30Z = 03:30 EDT.
    assert occ("FREQ=DAILY;COUNT=3", "2025-03-08T02:30:00", "America/New_York") == [
        "2025-03-08T02:30:00-05:00",
        "2025-03-09T03:30:00-04:00",
        "2025-03-10T02:30:00-04:00",
    ]


def test_gap_in_berlin_maps_forward_by_the_gap():
    # 02:30 does not exist on 2025-03-30 in Berlin: 02:30 CET = 01:30Z = 03:30 CEST.
    assert occ("FREQ=DAILY;COUNT=2", "2025-03-29T02:30:00", "Europe/Berlin") == [
        "2025-03-29T02:30:00+01:00",
        "2025-03-30T03:30:00+02:00",
    ]


def test_ambiguous_time_in_fall_back_fold_is_the_first_occurrence():
    # 01:30 happens twice on 2025-11-02 in New York: the first one, EDT.
    assert occ("FREQ=DAILY;COUNT=3", "2025-11-01T01:30:00", "America/New_York") == [
        "2025-11-01T01:30:00-04:00",
        "2025-11-02T01:30:00-04:00",
        "2025-11-03T01:30:00-05:00",
    ]
    assert occ("FREQ=DAILY;COUNT=1", "2025-10-26T02:30:00", "Europe/Berlin") == ["2025-10-26T02:30:00+02:00"]


def test_hourly_rule_never_fires_twice_at_one_instant_in_the_gap():
    # 02:00 (gap, = 07:00Z) and 03:00 EDT are the same instant: it fires once.
    result = occ("FREQ=HOURLY;COUNT=5", "2025-03-09T00:00:00", "America/New_York")
    assert result == [
        "2025-03-09T00:00:00-05:00",
        "2025-03-09T01:00:00-05:00",
        "2025-03-09T03:00:00-04:00",
        "2025-03-09T04:00:00-04:00",
    ]
    assert len(set(result)) == len(result)


def test_hourly_rule_in_fall_back_fold_fires_at_the_first_0100_only():
    result = occ("FREQ=HOURLY;COUNT=4", "2025-11-02T00:00:00", "America/New_York")
    assert result == [
        "2025-11-02T00:00:00-04:00",
        "2025-11-02T01:00:00-04:00",
        "2025-11-02T02:00:00-05:00",
        "2025-11-02T03:00:00-05:00",
    ]


def test_dtstart_with_offset_is_an_instant_converted_to_the_zone():
    # 14:00Z is 09:00 in New York (EST): the rule keeps 09:00 local from there.
    assert occ("FREQ=DAILY;COUNT=3", "2025-03-08T14:00:00Z", "America/New_York") == [
        "2025-03-08T09:00:00-05:00",
        "2025-03-09T09:00:00-04:00",
        "2025-03-10T09:00:00-04:00",
    ]
    assert occ("FREQ=DAILY;COUNT=1", "2025-03-08T15:00:00+01:00", "America/New_York") == [
        "2025-03-08T09:00:00-05:00"
    ]


# -- rule parts --------------------------------------------------------------------------------------------
def test_byday_ordinal_20mo_with_yearly_is_the_20th_monday_of_the_year():
    assert occ("FREQ=YEARLY;BYDAY=20MO", "1997-05-19T09:00:00", "America/New_York", 3) == [
        "1997-05-19T09:00:00-04:00",
        "1998-05-18T09:00:00-04:00",
        "1999-05-17T09:00:00-04:00",
    ]


def test_byday_minus_1fr_monthly_is_the_last_friday():
    assert occ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=4", "2025-01-01T18:00:00", "Asia/Kolkata") == [
        "2025-01-31T18:00:00+05:30",
        "2025-02-28T18:00:00+05:30",
        "2025-03-28T18:00:00+05:30",
        "2025-04-25T18:00:00+05:30",
    ]


def test_bysetpos_last_workday_of_the_month():
    # RFC 5545 example: the last work day of the month.
    assert occ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3", "2025-01-01T09:00:00", "UTC") == [
        "2025-01-31T09:00:00+00:00",
        "2025-02-28T09:00:00+00:00",
        "2025-03-31T09:00:00+00:00",
    ]


def test_bysetpos_third_tuesday_wednesday_or_thursday():
    # RFC 5545 example: the third instance into the month of one of Tuesday, Wednesday or Thursday.
    assert occ(
        "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3", "1997-09-04T09:00:00", "America/New_York"
    ) == [
        "1997-09-04T09:00:00-04:00",
        "1997-10-07T09:00:00-04:00",
        "1997-11-06T09:00:00-05:00",
    ]


def test_negative_bymonthday_counts_from_the_end_of_the_month():
    assert occ("FREQ=MONTHLY;BYMONTHDAY=-2;COUNT=3", "2025-01-01T09:00:00", "UTC") == [
        "2025-01-30T09:00:00+00:00",
        "2025-02-27T09:00:00+00:00",
        "2025-03-30T09:00:00+00:00",
    ]


def test_byweekno_monday_of_iso_week_20():
    # RFC 5545 example: Monday of week number 20 (WKST=MO).
    assert occ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "1997-05-12T09:00:00", "America/New_York", 3) == [
        "1997-05-12T09:00:00-04:00",
        "1998-05-11T09:00:00-04:00",
        "1999-05-17T09:00:00-04:00",
    ]


def test_byyearday_first_100th_and_200th_day():
    # RFC 5545 example: every third year on the 1st, 100th and 200th day.
    assert occ(
        "FREQ=YEARLY;INTERVAL=3;COUNT=4;BYYEARDAY=1,100,200", "1997-01-01T09:00:00", "America/New_York"
    ) == [
        "1997-01-01T09:00:00-05:00",
        "1997-04-10T09:00:00-04:00",
        "1997-07-19T09:00:00-04:00",
        "2000-01-01T09:00:00-05:00",
    ]
    assert occ("FREQ=YEARLY;BYYEARDAY=-1;COUNT=2", "2025-01-01T09:00:00", "UTC") == [
        "2025-12-31T09:00:00+00:00",
        "2026-12-31T09:00:00+00:00",
    ]


def test_wkst_changes_which_days_a_biweekly_rule_picks():
    # RFC 5545 example: the same rule with WKST=MO and WKST=SU differs.
    monday = occ(
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", "1997-08-05T09:00:00", "America/New_York"
    )
    sunday = occ(
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", "1997-08-05T09:00:00", "America/New_York"
    )
    assert [d[:10] for d in monday] == ["1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24"]
    assert [d[:10] for d in sunday] == ["1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31"]


def test_byhour_byminute_expand_a_daily_rule():
    assert occ("FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0,30;COUNT=5", "2025-06-01T00:00:00", "Europe/Berlin") == [
        "2025-06-01T09:00:00+02:00",
        "2025-06-01T09:30:00+02:00",
        "2025-06-01T18:00:00+02:00",
        "2025-06-01T18:30:00+02:00",
        "2025-06-02T09:00:00+02:00",
    ]


def test_bymonth_limits_a_weekly_rule():
    result = occ("FREQ=WEEKLY;BYMONTH=12;BYDAY=FR;COUNT=6", "2025-11-01T10:00:00", "UTC")
    assert [d[:10] for d in result] == [
        "2025-12-05",
        "2025-12-12",
        "2025-12-19",
        "2025-12-26",
        "2026-12-04",
        "2026-12-11",
    ]


# -- ends and exclusions -------------------------------------------------------------------------------------
def test_count_ends_the_rule():
    assert len(occ("FREQ=DAILY;COUNT=3", "2025-01-01T09:00:00", "UTC", count=50)) == 3


def test_until_in_utc_is_compared_as_an_instant():
    # 09:00 New York on 1997-09-05 is 13:00Z, exactly UNTIL: included; 12:59:59Z would exclude it.
    included = occ("FREQ=DAILY;UNTIL=19970905T130000Z", "1997-09-02T09:00:00", "America/New_York", 50)
    assert included[-1] == "1997-09-05T09:00:00-04:00" and len(included) == 4
    excluded = occ("FREQ=DAILY;UNTIL=19970905T125959Z", "1997-09-02T09:00:00", "America/New_York", 50)
    assert excluded[-1] == "1997-09-04T09:00:00-04:00"


def test_until_as_a_date_includes_that_whole_local_day():
    assert (
        occ("FREQ=DAILY;UNTIL=20250103", "2025-01-01T21:00:00", "Asia/Tokyo", 50)[-1]
        == "2025-01-03T21:00:00+09:00"
    )


def test_exdate_lines_remove_occurrences_and_count_still_counts_them():
    rule = (
        "DTSTART;TZID=America/New_York:20250307T090000\n"
        "RRULE:FREQ=DAILY;COUNT=4\n"
        "EXDATE;TZID=America/New_York:20250308T090000\n"
        "EXDATE:20250309T130000Z"
    )  # 09:00 EDT as an instant
    assert occ(rule, None, None) == ["2025-03-07T09:00:00-05:00", "2025-03-10T09:00:00-04:00"]


def test_exdates_given_separately_are_wall_clock():
    assert occ(
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        "2025-03-03T09:00:00",
        "Europe/Berlin",
        exdates=["2025-03-10T09:00:00"],
    ) == ["2025-03-03T09:00:00+01:00", "2025-03-17T09:00:00+01:00"]


def test_rfc5545_lines_with_folding_and_dtstart_tzid():
    rule = "DTSTART;TZID=Europe/Berlin:20250328T090000\r\nRRULE:FREQ=DAILY;\r\n COUNT=3"
    schedule = build_schedule(rule=rule, timezone=None)
    assert schedule.zone.key == "Europe/Berlin"
    assert [o.isoformat() for o in schedule.occurrences(after=schedule.dtstart, count=5, inclusive=True)] == [
        "2025-03-28T09:00:00+01:00",
        "2025-03-29T09:00:00+01:00",
        "2025-03-30T09:00:00+02:00",
    ]


def test_explicit_dtstart_wins_over_the_dtstart_line():
    rule = "DTSTART:20250101T090000\nRRULE:FREQ=DAILY;COUNT=1"
    assert occ(rule, "2025-02-01T10:00:00", "UTC") == ["2025-02-01T10:00:00+00:00"]


def test_rule_parts_in_any_order_and_rrule_prefix():
    assert occ("COUNT=2;INTERVAL=2;FREQ=DAILY", "2025-01-01T09:00:00", "UTC") == [
        "2025-01-01T09:00:00+00:00",
        "2025-01-03T09:00:00+00:00",
    ]
    assert occ("RRULE:FREQ=DAILY;COUNT=1", "2025-01-01T09:00:00", "UTC") == ["2025-01-01T09:00:00+00:00"]


# -- refusals ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("", "FREQ"),
        ("INTERVAL=2", "FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ"),
        ("FREQ=DAILY;BYFOO=1", "BYFOO"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;INTERVAL=x", "INTERVAL"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20250101T000000Z", "UNTIL"),
        ("FREQ=DAILY;UNTIL=2025-01-01", "UNTIL"),
        ("FREQ=DAILY;UNTIL=20250231T000000Z", "UNTIL"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR"),
        ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE"),
        ("FREQ=DAILY;BYSECOND=60", "BYSECOND"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
        ("FREQ=MONTHLY;BYDAY=XX", "BYDAY"),
        ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY"),
        ("FREQ=MONTHLY;BYDAY=-MO", "BYDAY"),
        ("FREQ=DAILY;BYDAY=2MO", "BYDAY"),
        ("FREQ=WEEKLY;BYDAY=-1FR", "BYDAY"),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "BYDAY"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
        ("FREQ=MONTHLY;BYYEARDAY=1", "BYYEARDAY"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS"),
        ("FREQ=WEEKLY;WKST=XX", "WKST"),
        ("FREQ=DAILY;COUNT", "COUNT"),
        ("RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY", "RRULE"),
        ("RRULE:FREQ=DAILY\nRDATE:20250101T090000", "RDATE"),
        ("DTSTART:2025\nRRULE:FREQ=DAILY", "DTSTART"),
        ("DTSTART;TZID=Mars/Olympus:20250101T090000\nRRULE:FREQ=DAILY", "DTSTART"),
        ("DTSTART:20250101T090000", "RRULE"),
        ("SUMMARY:party\nRRULE:FREQ=DAILY", "SUMMARY"),
    ],
)
def test_bad_rules_are_refused_naming_the_part(rule, part):
    with pytest.raises(RuleError) as caught:
        build_schedule(rule=rule, timezone="UTC", dtstart="2025-01-01T09:00:00")
    assert caught.value.code == "invalid_rrule"
    assert caught.value.part == part, caught.value.message
    assert caught.value.message


def test_bad_time_zone_and_dtstart_are_refused():
    with pytest.raises(RuleError) as caught:
        build_schedule(rule="FREQ=DAILY", timezone="Mars/Olympus", dtstart="2025-01-01T09:00:00")
    assert caught.value.code == "invalid_timezone"
    with pytest.raises(RuleError) as caught:
        build_schedule(rule="FREQ=DAILY", timezone="UTC", dtstart="next tuesday")
    assert caught.value.code == "invalid_datetime"
    with pytest.raises(RuleError) as caught:
        build_schedule(rule="FREQ=DAILY", timezone="UTC")
    assert caught.value.part == "DTSTART"


def test_a_rule_that_can_never_fire_returns_nothing_quickly():
    started = time.monotonic()
    for rule in (
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
    ):
        schedule = build_schedule(rule=rule, timezone="UTC", dtstart="2025-01-01T09:00:00")
        assert schedule.occurrences(after=schedule.dtstart, count=10) == []
        assert schedule.min_gap() is None
    # python-dateutil alone walks such rules to year 9999 (seconds each); the horizon stops it.
    assert time.monotonic() - started < 3


def test_a_rule_too_expensive_to_evaluate_is_refused_not_run_for_minutes():
    # Daily at 09:00 spelled with FREQ=SECONDLY: dateutil searches 86,400 seconds per occurrence.
    schedule = build_schedule(
        rule="FREQ=SECONDLY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", timezone="UTC", dtstart="2031-01-01T00:00:00"
    )
    started = time.monotonic()
    with pytest.raises(RuleError) as caught:
        scheduling.check_frequency(schedule, plan="free")
    assert caught.value.part == "FREQ" and "too long" in caught.value.message
    assert time.monotonic() - started < scheduling.EVALUATION_SECONDS + 2


def test_sparse_rules_still_find_far_occurrences():
    # Leap days only: 100 of them span 408 years (2100, 2200 and 2300 are not leap years).
    found = occ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2025-01-01T09:00:00", "UTC", count=100)
    assert len(found) == 100 and found[0].startswith("2028-02-29") and found[-1].startswith("2436-02-29")


# -- plan limits ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "plan", "ok"),
    [
        ("FREQ=MINUTELY;INTERVAL=15", "free", True),
        ("FREQ=MINUTELY;INTERVAL=14", "free", False),
        ("FREQ=MINUTELY;INTERVAL=10", "pro", False),
        ("FREQ=MINUTELY;INTERVAL=5", "enterprise", True),
        ("FREQ=MINUTELY;INTERVAL=4", "enterprise", False),
        ("FREQ=MINUTELY", "enterprise", False),
        ("FREQ=SECONDLY;INTERVAL=300", "enterprise", True),
        ("FREQ=SECONDLY;INTERVAL=30", "enterprise", False),
        ("FREQ=HOURLY;BYMINUTE=0,10", "free", False),  # 10 minutes apart inside each hour
        ("FREQ=HOURLY;BYMINUTE=0,10", "enterprise", True),
        ("FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0", "free", True),
        ("FREQ=SECONDLY;INTERVAL=3600", "free", True),  # hourly, however spelled
    ],
)
def test_recurrence_frequency_is_checked_against_the_plan(rule, plan, ok):
    schedule = build_schedule(rule=rule, timezone="Europe/Berlin", dtstart="2031-01-06T09:00:00")
    verdict = scheduling.check_frequency(schedule, plan=plan)
    assert verdict.ok is ok, verdict
    if not ok:
        assert verdict.code == "recurrence_too_frequent"
        assert verdict.details["min_interval_minutes"] == (5 if plan == "enterprise" else 15)


def test_a_dst_change_does_not_make_a_daily_rule_too_frequent():
    # 01:55 and 03:00 are 65 minutes apart on the wall clock, 5 real minutes on spring-forward day.
    schedule = build_schedule(
        rule="FREQ=DAILY;BYHOUR=1,3;BYMINUTE=55,0;BYSETPOS=2,3",
        timezone="America/New_York",
        dtstart="2025-03-08T00:00:00",
    )
    assert scheduling.check_frequency(schedule, plan="free").ok


def test_plan_limits_are_settings(settings):
    settings.PUSHPILOT_PLAN_MIN_INTERVAL_MINUTES = {"free": 60, "pro": 30, "enterprise": 1}
    schedule = build_schedule(rule="FREQ=MINUTELY;INTERVAL=30", timezone="UTC", dtstart="2031-01-01T00:00:00")
    assert not scheduling.check_frequency(schedule, plan="free").ok
    assert scheduling.check_frequency(schedule, plan="pro").ok


def test_preview_lists_past_occurrences_and_reports_schedulability():
    schedule = build_schedule(
        rule="FREQ=MINUTELY;INTERVAL=10;COUNT=3", timezone="UTC", dtstart="2001-01-01T00:00"
    )
    free = scheduling.preview(schedule, count=5, plan="free")
    assert free["occurrences"] == [
        "2001-01-01T00:00:00+00:00",
        "2001-01-01T00:10:00+00:00",
        "2001-01-01T00:20:00+00:00",
    ]
    assert (
        free["schedulable"] is False and free["reason_code"] == "recurrence_too_frequent" and free["reason"]
    )
    assert scheduling.preview(schedule, count=5, plan="enterprise")["schedulable"] is True


def test_rebasing_a_long_running_rule_finds_the_same_next_occurrences():
    """next_occurrence walks from shortly before ``after``, not from DTSTART: it must agree with the
    full walk for every kind of rule (seeded, so a failure reproduces)."""
    import random

    rng = random.Random(5545)
    parts = {
        "INTERVAL": ["1", "2", "3", "7"],
        "BYDAY": ["MO", "TU,TH", "SA,SU", "-1FR", "2MO"],
        "BYMONTHDAY": ["1", "15", "-1", "28"],
        "BYMONTH": ["1,4,7,10", "3", "11,12"],
        "BYHOUR": ["0", "9,17", "2"],
        "BYMINUTE": ["0", "30", "0,45"],
        "BYSETPOS": ["1", "-1"],
        "WKST": ["MO", "SU"],
    }
    frequencies = ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"]
    starts = [
        "2020-01-31T09:00:00",
        "2020-02-29T23:30:00",
        "2021-03-14T02:30:00",
        "2021-11-07T01:30:00",
        "2022-06-15T12:00:00",
    ]
    checked = 0
    for _ in range(160):
        freq = rng.choice(frequencies)
        chosen = rng.sample(sorted(parts), rng.randint(0, 3))
        if freq == "MINUTELY":
            chosen = [p for p in chosen if p not in ("BYMINUTE",)] + ["INTERVAL"]
        rule = ";".join([f"FREQ={freq}"] + [f"{p}={rng.choice(parts[p])}" for p in dict.fromkeys(chosen)])
        if freq == "MINUTELY":
            rule = rule.replace("INTERVAL=1", "INTERVAL=20").replace("INTERVAL=2;", "INTERVAL=25;")
        try:
            schedule = build_schedule(
                rule=rule,
                timezone=rng.choice(["America/New_York", "Europe/Berlin"]),
                dtstart=rng.choice(starts),
            )
        except RuleError:
            continue
        # Up to ~14 months on: long enough to cross both DST changes and a year boundary.
        after = schedule.dtstart + timedelta(days=420) * rng.random()
        fast = schedule.occurrences(after=after, count=3)
        try:
            slow = schedule.occurrences(after=after, count=3, rebase=False)
        except RuleError:  # the full walk of a sub-daily rule can exceed the evaluation deadline
            continue
        assert fast == slow, (rule, schedule.dtstart_local, after)
        checked += 1
    assert checked > 100
