from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path

from dataquality.urls import api_urlpatterns as dataquality_api_urlpatterns
from recon.urls import api_urlpatterns as recon_api_urlpatterns

from . import views
from .api import errors as api_errors
from .auth import any_role_may_post
from .modules import MODULES

admin.site.site_header = "opssuite back office"
admin.site.site_title = "opssuite back office"
admin.site.index_title = "Configuration and records"

placeholder_pages = [
    path(f"{m.slug}/", views.module_placeholder, {"slug": m.slug}, name=m.slug)
    for m in MODULES
    if m.placeholder
]

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", any_role_may_post(auth_views.LogoutView.as_view()), name="logout"),
    path("", include("simulator.urls")),
    path("", include("book.urls")),
    path("", include("ledger.urls")),
    path("", include("recon.urls")),
    path("", include("dataquality.urls")),
    *placeholder_pages,
    path("admin/", admin.site.urls),
    path("metrics", views.metrics, name="metrics"),
    path("api/", include(recon_api_urlpatterns)),
    path("api/", include(dataquality_api_urlpatterns)),
    path("api/", include("opssuite.api.urls")),
]


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return api_errors.api_not_found(request)
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return api_errors.api_server_error(request)
    return render(request, "500.html", status=500)
