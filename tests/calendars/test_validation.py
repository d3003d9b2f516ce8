from datetime import date, time

from calendars import validation


def t(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def test_it_accepts_separate_and_touching_intervals():
    rows = [(t("09:00"), t("12:00")), (t("12:00"), t("13:00")), (t("14:00"), t("17:00"))]
    assert validation.interval_errors(rows, allow_closed=False) == {}


def test_it_refuses_an_end_before_the_start_on_the_end_field():
    errors = validation.interval_errors([(t("12:00"), t("09:00"))], allow_closed=False)
    assert errors == {0: {"end": [validation.END_AFTER_START]}}


def test_it_refuses_an_end_equal_to_the_start():
    errors = validation.interval_errors([(t("09:00"), t("09:00"))], allow_closed=False)
    assert errors == {0: {"end": [validation.END_AFTER_START]}}


def test_it_refuses_overlapping_intervals_naming_both():
    rows = [(t("13:00"), t("17:00")), (t("09:00"), t("14:00"))]
    errors = validation.interval_errors(rows, allow_closed=False)
    assert errors == {0: {"start": ["13:00-17:00 overlaps 09:00-14:00."]}}


def test_it_flags_every_interval_inside_a_long_one():
    rows = [(t("09:00"), t("17:00")), (t("10:00"), t("11:00")), (t("12:00"), t("13:00"))]
    errors = validation.interval_errors(rows, allow_closed=False)
    assert set(errors) == {1, 2}


def test_it_requires_both_times_for_weekly_hours():
    errors = validation.interval_errors([(None, None), (t("09:00"), None)], allow_closed=False)
    assert errors == {
        0: {"start": [validation.REQUIRED], "end": [validation.REQUIRED]},
        1: {"end": [validation.REQUIRED]},
    }


def test_it_accepts_a_closed_date_alone():
    assert validation.interval_errors([(None, None)], allow_closed=True) == {}


def test_it_refuses_a_closed_date_that_also_has_hours():
    errors = validation.interval_errors([(t("09:00"), t("10:00")), (None, None)], allow_closed=True)
    assert errors == {1: {"__all__": [validation.CLOSED_WITH_HOURS]}}


def test_it_refuses_half_given_override_times():
    errors = validation.interval_errors([(None, t("10:00"))], allow_closed=True)
    assert errors == {0: {"start": [validation.BOTH_OR_NEITHER]}}


def test_it_groups_weekly_rows_by_weekday():
    rows = [(0, t("09:00"), t("12:00")), (1, t("10:00"), t("11:00")), (0, t("11:00"), t("13:00"))]
    errors = validation.weekly_hours_errors(rows)
    assert list(errors) == [2]
    assert "overlaps 09:00-12:00" in errors[2]["start"][0]


def test_it_groups_override_rows_by_date():
    day, other = date(2027, 3, 15), date(2027, 3, 16)
    rows = [(day, None, None), (other, t("09:00"), t("10:00")), (day, t("09:00"), t("10:00"))]
    errors = validation.date_override_errors(rows)
    assert set(errors) == {0}


def test_it_flattens_errors_into_labelled_lines():
    errors = {1: {"end": ["Bad."]}, 0: {"__all__": ["Worse."]}}
    assert validation.flat_messages(errors, ["Monday", "Tuesday"]) == [
        "Monday: Worse.",
        "Tuesday (end): Bad.",
    ]
