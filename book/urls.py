from django.urls import path

from . import views

urlpatterns = [
    path("trades/", views.trade_blotter, name="trades"),
    path("trades/<str:trade_id>/", views.trade_detail, name="trade-detail"),
    path("trades/<str:trade_id>/cancel/", views.trade_cancel, name="trade-cancel"),
    path("trades/<str:trade_id>/amend/", views.trade_amend, name="trade-amend"),
    path("positions/", views.positions, name="positions"),
    path("events/", views.event_log, name="events"),
    path("events/trace/<str:trade_id>/", views.trade_trace, name="trade-trace"),
]
