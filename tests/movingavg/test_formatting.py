"""Numbers and bucket labels on the admin pages (pure functions)."""

from __future__ import annotations

import pytest

from movingavg.formatting import bucket_label, format_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0"),
        (1234567, "1,234,567"),
        (2.0, "2"),
        (2.5, "2.5"),
        (0.3333333333333333, "0.3333"),
        (1234.5678, "1,234.57"),
        (-0.000123456, "-0.0001235"),
        ("12345678901234567890.125", "12,345,678,901,234,567,890.12"),
    ],
)
def test_numbers_read_the_way_people_write_them(value: object, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("start", "label"),
    [
        ("2026-09-29T00:00:00.000Z", "2026-09-29"),
        ("2026-09-29T14:00:00.000+02:00", "2026-09-29 14:00"),
        ("2026-10-25T00:00:00.000-04:00", "2026-10-25"),
    ],
)
def test_bucket_starts_read_as_local_time(start: str, label: str) -> None:
    assert bucket_label(start) == label
