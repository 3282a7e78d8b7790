"""Category inference (web, mobile, server, other) from an SDK's context.

Rules, first match wins:

1. ``context.library.name`` (case-insensitive) is a known library: server libraries
   (analytics-python, -node, -ruby, -go, -java, -php, -dotnet, Analytics.NET, the Keen
   python and java clients) give "server"; mobile ones (analytics-ios, -android, -swift,
   -kotlin, -react-native, -flutter, -xamarin, react-native, flutter) give "mobile";
   browser ones (analytics.js, analytics-next, analytics-browser) give "web".
2. ``context.device`` (non-empty object), ``context.app`` (non-empty object) or
   ``context.os.name`` one of iOS, iPadOS, Android, tvOS, watchOS: "mobile".
3. ``context.page`` or ``context.userAgent`` (and none of rule 2): "web".
4. Otherwise "other".

Keen requests carry no context; their ``Keen-Sdk`` header (``python-0.7.0``) is mapped by
:func:`keen_sdk_category`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spark.schema import Category

SERVER_LIBRARIES = frozenset(
    {
        "analytics-python",
        "analytics-node",
        "@segment/analytics-node",
        "analytics-ruby",
        "analytics-go",
        "analytics-java",
        "analytics-php",
        "analytics-dotnet",
        "analytics.net",
        "keen-python",
        "keen-java",
    }
)
MOBILE_LIBRARIES = frozenset(
    {
        "analytics-ios",
        "analytics-android",
        "analytics-swift",
        "analytics-kotlin",
        "analytics-kotlin-android",
        "analytics-react-native",
        "@segment/analytics-react-native",
        "analytics-flutter",
        "analytics-xamarin",
        "react-native",
        "flutter",
    }
)
WEB_LIBRARIES = frozenset(
    {"analytics.js", "analytics-next", "@segment/analytics-next", "analytics-browser"}
)
MOBILE_OS_NAMES = frozenset({"ios", "ipados", "android", "tvos", "watchos"})

KEEN_SDK_CATEGORIES: dict[str, Category] = {
    "python": Category.SERVER,
    "java": Category.SERVER,
    "ruby": Category.SERVER,
    "php": Category.SERVER,
    "node": Category.SERVER,
    "dotnet": Category.SERVER,
    "go": Category.SERVER,
    "javascript": Category.WEB,
    "js": Category.WEB,
    "web": Category.WEB,
    "android": Category.MOBILE,
    "ios": Category.MOBILE,
}


def _lower_name(value: object) -> str:
    if isinstance(value, Mapping):
        value = value.get("name")
    return value.strip().lower() if isinstance(value, str) else ""


def infer_category(context: Mapping[str, Any]) -> Category:
    """The category an event's ``context`` implies (rules in the module docstring)."""
    library = _lower_name(context.get("library"))
    if library in SERVER_LIBRARIES:
        return Category.SERVER
    if library in MOBILE_LIBRARIES:
        return Category.MOBILE
    if library in WEB_LIBRARIES:
        return Category.WEB
    device, app = context.get("device"), context.get("app")
    if (isinstance(device, Mapping) and device) or (isinstance(app, Mapping) and app):
        return Category.MOBILE
    if _lower_name(context.get("os")) in MOBILE_OS_NAMES:
        return Category.MOBILE
    if context.get("page") or context.get("userAgent"):
        return Category.WEB
    return Category.OTHER


def keen_sdk_category(sdk: str | None) -> Category:
    """The category of a Keen ``Keen-Sdk`` header (``python-0.7.0`` gives "server")."""
    if not sdk:
        return Category.OTHER
    family = sdk.strip().lower().split("-", 1)[0]
    return KEEN_SDK_CATEGORIES.get(family, Category.OTHER)
