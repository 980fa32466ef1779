from django.urls import path

from . import views

urlpatterns = [
    path("ledger/", views.journals, name="ledger"),
    path("ledger/journals/<str:journal_id>/", views.journal_detail, name="ledger-journal"),
    path("ledger/trial-balance/", views.trial_balance, name="ledger-trial-balance"),
    path("ledger/statements/", views.statements, name="ledger-statements"),
    path("ledger/accounts/<str:code>/", views.account_detail, name="ledger-account"),
    path("ledger/checks/", views.checks, name="ledger-checks"),
    path("ledger/periods/", views.periods, name="ledger-periods"),
    path("ledger/periods/close/", views.period_close, name="ledger-period-close"),
]
