from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from book.api import EventViewSet, TradeTraceView

from .views import APIDocsView, APINotFoundView, APIRootView, ClockView, HealthView, OverviewView

router = SimpleRouter(trailing_slash=False)
router.register("events", EventViewSet, basename="api-event")

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("health", HealthView.as_view(), name="api-health"),
    path("overview", OverviewView.as_view(), name="api-overview"),
    path("clock", ClockView.as_view(), name="api-clock"),
    path("trace/<str:trade_id>", TradeTraceView.as_view(), name="api-trace"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", APIDocsView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", APINotFoundView.as_view(), name="api-not-found"),
]
