"""Data quality's pages (`urlpatterns`, under /dataquality/) and API (`api_urlpatterns`,
under /api/dataquality; opssuite/urls.py includes both)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

urlpatterns = [
    path("dataquality/", views.dashboard, name="dataquality"),
    path("dataquality/alerts/", views.alert_queue, name="dq-alerts"),
    path("dataquality/alerts/counts/", views.queue_counts, name="dq-counts"),
    path("dataquality/alerts/bulk/", views.bulk_action, name="dq-bulk"),
    path("dataquality/alerts/<str:alert_id>/", views.alert_detail, name="dq-alert"),
    path(
        "dataquality/alerts/<str:alert_id>/<str:action>/",
        views.alert_action,
        name="dq-alert-action",
    ),
    path("dataquality/rules/", views.rules, name="dq-rules"),
    path("dataquality/runs/", views.runs, name="dq-runs"),
    path("dataquality/runs/<int:tick>/", views.run_detail, name="dq-run"),
]

router = SimpleRouter(trailing_slash=False)
router.register("dataquality/alerts", api.AlertViewSet, basename="api-dq-alert")
router.register("dataquality/rules", api.RuleViewSet, basename="api-dq-rule")
router.register("dataquality/runs", api.RunViewSet, basename="api-dq-run")

api_urlpatterns = [
    path("dataquality", api.DQSummaryView.as_view(), name="api-dataquality"),
    path("dataquality/trend", api.TrendView.as_view(), name="api-dq-trend"),
    path("dataquality/gate", api.GateView.as_view(), name="api-dq-gate"),
    path("dataquality/late-alerts", api.LateAlertsView.as_view(), name="api-dq-late-alerts"),
    *router.urls,
]
