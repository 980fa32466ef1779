# syntax=docker/dockerfile:1
# opssuite application image: the same image runs the one-shot `init` (bootstrap), web
# (gunicorn), the Celery worker and Celery beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

# PYTHONPATH: the source tree in /app (templates/ and static/ beside the packages, where
# settings.BASE_DIR expects them) comes first on the path for every entry point.
# OPSSUITE_VAR_DIR: local state (collected static files, the beat schedule); collectstatic
# below writes into $OPSSUITE_VAR_DIR/static, so runtime must use this same directory.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=opssuite.settings \
    OPSSUITE_VAR_DIR=/var/lib/opssuite

# tesseract-ocr: OCR for the documents module (pytesseract calls the binary).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 opssuite \
    && useradd --system --uid 10001 --gid opssuite --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin opssuite

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
       > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (.dockerignore keeps .git, .venv, var/ and secrets out).
COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && chmod 0755 /app/deploy/entrypoint.sh \
    && install -d -o opssuite -g opssuite -m 0750 "$OPSSUITE_VAR_DIR"

USER opssuite:opssuite

# Static files are collected at build time (whitenoise serves the hashed manifest). Settings
# need a SECRET_KEY to load with DEBUG off: this throwaway value exists only for this RUN
# line (it is not baked into the image's environment) and the SQLite URL is never opened.
RUN SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    DEBUG=0 \
    python manage.py collectstatic --noinput

EXPOSE 8000

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["gunicorn", "opssuite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]
