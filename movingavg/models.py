"""Metric definitions: which series a project watches, and its moving average."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class MetricDefinition(models.Model):
    """A named metric: an analysis of one event over an interval, with a moving average.

    The admin's metric browser charts it; ``query_params()`` is what the insights
    query API takes for it.
    """

    class Analysis(models.TextChoices):
        COUNT = "count"
        COUNT_UNIQUE = "count_unique", "count unique (distinct_id)"
        SUM = "sum"
        AVERAGE = "average"
        MINIMUM = "minimum"
        MAXIMUM = "maximum"

    class Interval(models.TextChoices):
        HOURLY = "hourly"
        DAILY = "daily"
        MONTHLY = "monthly"

    class Kind(models.TextChoices):
        """The engines' kinds (``movingavg.engines.KINDS``), with labels for the admin."""

        SMA = "sma", "simple (SMA)"
        EMA = "ema", "exponential (EMA)"
        WMA = "wma", "weighted (WMA)"
        CMA = "cma", "cumulative (CMA)"

    project = models.ForeignKey("events.Project", on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    event_collection = models.CharField(max_length=255, help_text="the event name")
    analysis = models.CharField(max_length=20, choices=Analysis.choices, default=Analysis.COUNT)
    target_property = models.CharField(
        max_length=255, blank=True, help_text="the numeric property, for sum to maximum"
    )
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.DAILY)
    kind = models.CharField(max_length=3, choices=Kind.choices, default=Kind.SMA)
    window = models.PositiveIntegerField(
        null=True, blank=True, help_text="buckets in the window (the span for EMA; none for CMA)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="one_metric_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.project})"

    def clean(self) -> None:
        needs_target = self.analysis not in (self.Analysis.COUNT, self.Analysis.COUNT_UNIQUE)
        if needs_target and not self.target_property:
            raise ValidationError({"target_property": f"{self.analysis} needs a property"})
        if self.kind == self.Kind.CMA and self.window:
            raise ValidationError({"window": "CMA takes no window"})
        if self.kind != self.Kind.CMA and not self.window:
            raise ValidationError({"window": f"{self.kind.upper()} needs a window"})

    def query_params(self) -> dict[str, str | int]:
        """The insights query parameters of this metric (without a timeframe)."""
        params: dict[str, str | int] = {
            "event_collection": self.event_collection,
            "interval": self.interval,
            "kind": self.kind,
        }
        if self.analysis == self.Analysis.COUNT_UNIQUE:
            params["target_property"] = "distinct_id"
        elif self.target_property:
            params["target_property"] = self.target_property
        if self.window:
            params["window"] = self.window
        return params
