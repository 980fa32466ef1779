"""The recon's pages (`urlpatterns`, under /recon/) and API (`api_urlpatterns`, under
/api/recon; opssuite/urls.py includes both)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, views

urlpatterns = [
    path("recon/", views.break_queue, name="recon"),
    path("recon/counts/", views.queue_counts, name="recon-counts"),
    path("recon/bulk/", views.bulk_action, name="recon-bulk"),
    path("recon/breaks/<str:break_id>/", views.break_detail, name="recon-break"),
    path(
        "recon/breaks/<str:break_id>/<str:action>/",
        views.break_action,
        name="recon-break-action",
    ),
    path("recon/aging/", views.aging, name="recon-aging"),
    path("recon/runs/", views.runs, name="recon-runs"),
    path("recon/runs/upload/", views.run_upload, name="recon-run-upload"),
    path("recon/runs/<str:run_id>/", views.run_report, name="recon-run"),
]

router = SimpleRouter(trailing_slash=False)
router.register("recon/breaks", api.BreakViewSet, basename="api-recon-break")
router.register("recon/runs", api.RunViewSet, basename="api-recon-run")

api_urlpatterns = [
    path("recon", api.ReconSummaryView.as_view(), name="api-recon"),
    *router.urls,
]
