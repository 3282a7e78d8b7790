"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("events.urls")),
    path("", include("insights.urls")),
    path("api/v1/health", HealthView.as_view(), name="health"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# JSON errors on the API's paths (Keen's shape on /3.0/), Django's pages elsewhere.
handler400 = "analytics_site.errors.bad_request"
handler403 = "analytics_site.errors.permission_denied"
handler404 = "analytics_site.errors.page_not_found"
handler500 = "analytics_site.errors.server_error"
