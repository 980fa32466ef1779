#!/bin/sh
# Container entry point: prepare per-start state, then run the given command as PID 1.
set -eu

# gunicorn runs several worker processes; prometheus_client (through django-prometheus)
# aggregates their metrics through files in PROMETHEUS_MULTIPROC_DIR. The directory must
# exist and must start empty, or counters from a previous run leak into this one.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

exec "$@"
