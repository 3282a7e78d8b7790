"""The project's URLs plus ``POST /bench/noop``, a DRF view that does nothing."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class NoopView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        return Response({"ok": True}, status=202)


urlpatterns = [
    path("bench/noop", NoopView.as_view()),
    path("", include("analytics_site.urls")),
]
