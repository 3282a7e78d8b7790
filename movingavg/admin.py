"""Admin pages: metric definitions and the metric browser (a chart with the moving
average and the table of numbers, rendered on the server from the query API)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from events.models import Project

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
    metric = forms.CharField(initial="events", help_text="events, or property:<path>")
    granularity = forms.ChoiceField(choices=[(g, g) for g in ("hour", "day", "month")])
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
    list_display = ("name", "project", "event_collection", "analysis", "interval", "kind",
                    "window", "chart")  # fmt: skip
    list_filter = ("project", "analysis", "interval", "kind")
    search_fields = ("name", "event_collection")

    @admin.display(description="chart")
    def chart(self, obj: MetricDefinition) -> str:
        params = {"project": obj.project_id, "analysis": obj.analysis,
                  "timeframe": DEFAULT_TIMEFRAMES[obj.interval], **obj.query_params()}  # fmt: skip
        url = reverse("admin:movingavg_browse") + "?" + urlencode(params)
        return format_html('<a href="{}">open</a>', url)

    def get_urls(self):
        browse = path("browse/", self.admin_site.admin_view(self.browse), name="movingavg_browse")
        rollups = path(
            "rollups/", self.admin_site.admin_view(self.rollups), name="movingavg_rollups"
        )
        return [browse, rollups, *super().get_urls()]

    def rollups(self, request):
        """The stored rollup rows of one partition (the ``Rollup`` Cassandra model)."""
        from insights.models import Rollup

        form = RollupsForm(request.GET or None)
        context = {**self.admin_site.each_context(request), "form": form,
                   "title": "Rollup rows", "opts": self.model._meta}  # fmt: skip
        if form.is_valid():
            data = form.cleaned_data
            context["rows"] = list(
                Rollup.objects.filter(
                    project_id=data["project"].id, name=data["event_collection"],
                    metric=data["metric"], granularity=data["granularity"], period=data["period"],
                ).limit(5000)
            )  # fmt: skip
        return TemplateResponse(request, "admin/movingavg/rollups.html", context)

    def browse(self, request):
        """The metric browser: pick a project and an event; see the series and its average."""
        from insights.queries import answer, parse_query
        from insights.timeframes import QueryError

        form = BrowseForm(request.GET or None)
        context = {**self.admin_site.each_context(request), "form": form,
                   "title": "Metric browser", "opts": self.model._meta}  # fmt: skip
        if form.is_valid():
            data = form.cleaned_data
            params = {k: v for k, v in data.items() if k != "project" and v not in (None, "")}
            if data["analysis"] == "count_unique":
                params["target_property"] = "distinct_id"
            if data["kind"] == "cma":
                params.pop("window", None)
            try:
                query = parse_query(data["analysis"], params, now=timezone.now())
                series = answer(project_id=data["project"].id, query=query)
            except QueryError as exc:
                form.add_error(None, f"{exc.field}: {exc.message}")
            else:
                context |= {"series": series, "chart": line_chart(series)}
        return TemplateResponse(request, "admin/movingavg/browse.html", context)
