"""Admin pages: metric definitions and the metric browser (a chart with the moving
average and the table of numbers, rendered on the server from the query API)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from events.models import Project
from insights.errors import QueryError
from insights.models import Rollup
from insights.selectors import query_answer
from spark.schema import EVENTS_METRIC, PROPERTY_PREFIX, Granularity

from .charts import line_chart
from .models import MetricDefinition

DEFAULT_TIMEFRAMES = {
    "hourly": "previous_48_hours",
    "daily": "previous_30_days",
    "monthly": "previous_12_months",
}


class RollupsForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    event_collection = forms.CharField(label="event")
    metric = forms.CharField(
        initial=EVENTS_METRIC, help_text=f"{EVENTS_METRIC}, or {PROPERTY_PREFIX}<path>"
    )
    granularity = forms.ChoiceField(choices=[(g.value, g.value) for g in Granularity])
    period = forms.CharField(help_text="2026-11 for hours; 2026 for days and months")


class BrowseForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    event_collection = forms.CharField(label="event")
    analysis = forms.ChoiceField(choices=MetricDefinition.Analysis.choices)
    target_property = forms.CharField(required=False)
    timeframe = forms.CharField(initial="previous_30_days")
    interval = forms.ChoiceField(choices=MetricDefinition.Interval.choices, initial="daily")
    kind = forms.ChoiceField(choices=MetricDefinition.Kind.choices)
    window = forms.IntegerField(required=False, min_value=1, initial=7)


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "project",
        "event_collection",
        "analysis",
        "interval",
        "kind",
        "window",
        "chart",
    )
    list_filter = ("project", "analysis", "interval", "kind")
    search_fields = ("name", "event_collection")

    @admin.display(description="chart")
    def chart(self, obj: MetricDefinition) -> str:
        params = {
            "project": obj.project_id,
            "analysis": obj.analysis,
            "timeframe": DEFAULT_TIMEFRAMES[obj.interval],
            **obj.query_params(),
        }
        url = reverse("admin:movingavg_browse") + "?" + urlencode(params)
        return format_html('<a href="{}">open</a>', url)

    def get_urls(self) -> list[URLPattern]:
        browse = path("browse/", self.admin_site.admin_view(self.browse), name="movingavg_browse")
        rollups = path(
            "rollups/", self.admin_site.admin_view(self.rollups), name="movingavg_rollups"
        )
        return [browse, rollups, *super().get_urls()]

    def rollups(self, request: HttpRequest) -> TemplateResponse:
        """The stored rollup rows of one partition (the ``Rollup`` Cassandra model)."""
        form = RollupsForm(request.GET or None)
        context = self._context(request, form, "Rollup rows")
        if form.is_valid():
            data = form.cleaned_data
            rows = Rollup.objects.filter(
                project_id=data["project"].id,
                name=data["event_collection"],
                metric=data["metric"],
                granularity=data["granularity"],
                period=data["period"],
            )
            context["rows"] = list(rows.limit(5000))
        return TemplateResponse(request, "admin/movingavg/rollups.html", context)

    def browse(self, request: HttpRequest) -> TemplateResponse:
        """The metric browser: pick a project and an event; see the series and its average
        (always fresh: ``max_age=0``)."""
        form = BrowseForm(request.GET or None)
        context = self._context(request, form, "Metric browser")
        if form.is_valid():
            data = form.cleaned_data
            params = {k: v for k, v in data.items() if k != "project" and v not in (None, "")}
            if data["analysis"] == "count_unique":
                params["target_property"] = "distinct_id"
            if data["kind"] == "cma":
                params.pop("window", None)
            try:
                series = query_answer(
                    project_id=data["project"].id,
                    analysis=data["analysis"],
                    params=params,
                    max_age=0,
                )
            except QueryError as exc:
                form.add_error(None, f"{exc.field}: {exc.message}")
            else:
                if not isinstance(series, list):  # the form requires an interval: a series
                    raise TypeError(f"expected a series of points, got {type(series).__name__}")
                context |= {"series": series, "chart": line_chart(series)}
        return TemplateResponse(request, "admin/movingavg/browse.html", context)

    def _context(self, request: HttpRequest, form: forms.Form, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "form": form,
            "title": title,
            "opts": self.model._meta,
        }
