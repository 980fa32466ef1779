"""WSGI entry point (gunicorn opssuite.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opssuite.settings")
application = get_wsgi_application()
