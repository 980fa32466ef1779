from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from book.api import (
    EventViewSet,
    InstrumentViewSet,
    MandateViewSet,
    PositionListView,
    TradeTraceView,
    TradeViewSet,
)
from ledger.api import (
    AccountDetailView,
    AccountListView,
    BalanceSheetView,
    IncomeStatementView,
    JournalViewSet,
    LedgerChecksView,
    LedgerView,
    PeriodCloseView,
    PeriodListView,
    TrialBalanceView,
)
from simulator.api import MarketContextView, PriceListView

from .views import APIDocsView, APINotFoundView, APIRootView, ClockView, HealthView, OverviewView

router = SimpleRouter(trailing_slash=False)
router.register("events", EventViewSet, basename="api-event")
router.register("book/instruments", InstrumentViewSet, basename="api-instrument")
router.register("book/mandates", MandateViewSet, basename="api-mandate")
router.register("book/trades", TradeViewSet, basename="api-trade")
router.register("ledger/journals", JournalViewSet, basename="api-journal")

ledger_urlpatterns = [
    path("ledger", LedgerView.as_view(), name="api-ledger"),
    path("ledger/trial-balance", TrialBalanceView.as_view(), name="api-trial-balance"),
    path("ledger/balance-sheet", BalanceSheetView.as_view(), name="api-balance-sheet"),
    path("ledger/income-statement", IncomeStatementView.as_view(), name="api-income-statement"),
    path("ledger/accounts", AccountListView.as_view(), name="api-account-list"),
    path("ledger/accounts/<str:code>", AccountDetailView.as_view(), name="api-account-detail"),
    path("ledger/checks", LedgerChecksView.as_view(), name="api-ledger-checks"),
    path("ledger/periods", PeriodListView.as_view(), name="api-period-list"),
    path("ledger/periods/close", PeriodCloseView.as_view(), name="api-period-close"),
]

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("health", HealthView.as_view(), name="api-health"),
    path("overview", OverviewView.as_view(), name="api-overview"),
    path("clock", ClockView.as_view(), name="api-clock"),
    path("trace/<str:trade_id>", TradeTraceView.as_view(), name="api-trace"),
    path("market/context", MarketContextView.as_view(), name="api-market-context"),
    path("market/prices", PriceListView.as_view(), name="api-market-prices"),
    path("book/positions", PositionListView.as_view(), name="api-positions"),
    *ledger_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", APIDocsView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", APINotFoundView.as_view(), name="api-not-found"),
]
