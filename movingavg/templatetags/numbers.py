"""``{{ value|number }}``: a number as people read it (``movingavg.formatting``)."""

from __future__ import annotations

from django import template

from movingavg.formatting import format_number

register = template.Library()


@register.filter
def number(value: object) -> str:
    return format_number(value)
