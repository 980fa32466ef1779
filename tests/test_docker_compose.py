"""docker-compose.yml, the Dockerfile and deploy/: their structure, checked without Docker.

No Docker engine runs where these tests run, so the stack is kept correct by construction:
these tests read the files as data and fail when a service, a health check, a dependency,
a pinned image or an environment variable name goes wrong. When the `docker compose` CLI
is present, one more test has it parse the file (that needs no engine); it is skipped
otherwise.
"""

from __future__ import annotations

import ast
import importlib.util
import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SETTINGS_FILE = ROOT / "opssuite" / "settings.py"

CORE_SERVICES = {"postgres", "redis", "web", "worker", "beat"}
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_float", "env_list"}
# Read by libraries rather than by our code: Django's own, and prometheus_client's (through
# django-prometheus), which test_third_party_env_names_are_read confirms in the installed code.
THIRD_PARTY_ENV = {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}
# Interpreter and installer variables a Dockerfile may set.
IMAGE_TOOLING_ENV = re.compile(r"^(PYTHON[A-Z_]*|PIP_[A-Z_]+)$")


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml has no services"
    return found


def words(command: Any) -> list[str]:
    """A compose `command`/`test` (list or string) as a list of words."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolated(value: str) -> str:
    """A compose value with ${VAR:-default} as its default and other ${VAR...} as "set"."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(2) in {"-", ":-"}:
            return match.group(3)
        return "set"

    return INTERPOLATION.sub(replace, value)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition (a plain list means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run the opssuite image built from ./Dockerfile."""
    found = {name: svc for name, svc in services.items() if "build" in svc}
    assert found, "no service builds the opssuite image"
    return found


def runs_celery(service: dict[str, Any], subcommand: str) -> bool:
    cmd = words(service.get("command"))
    return bool(cmd) and Path(cmd[0]).name == "celery" and subcommand in cmd


def celery_app(cmd: list[str]) -> str | None:
    for i, word in enumerate(cmd):
        if word in {"-A", "--app"} and i + 1 < len(cmd):
            return cmd[i + 1]
        if word.startswith("--app="):
            return word.split("=", 1)[1]
    return None


def option_value(cmd: list[str], *names: str) -> str | None:
    for i, word in enumerate(cmd):
        if word in names and i + 1 < len(cmd):
            return cmd[i + 1]
        for name in names:
            if name.startswith("--") and word.startswith(f"{name}="):
                return word.split("=", 1)[1]
    return None


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    return {
        dep
        for svc in services.values()
        for dep, condition in depends_on(svc).items()
        if condition == "service_completed_successfully"
    }


def env_names_read_by(path: Path, helpers: set[str]) -> set[str]:
    """Literal names passed to the helpers or to os.environ.get/os.getenv/os.environ[...]."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        first: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Name) and func.id in helpers:
                first = node.args[0]
                if func.id == "env_str" and isinstance(first, ast.Constant):
                    names.add(f"{first.value}_FILE")  # env_str reads NAME_FILE too
            elif isinstance(func, ast.Attribute) and (
                (func.attr == "getenv" and ast.unparse(func.value) == "os")
                or (
                    func.attr in {"get", "setdefault", "pop"}
                    and ast.unparse(func.value) == "os.environ"
                )
            ):
                first = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            first = node.slice
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def project_python_files() -> list[Path]:
    """manage.py and the installed packages' modules, without tests and migrations."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in includes})
    files = [ROOT / "manage.py"]
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if not parts & {"tests", "migrations"} and not path.name.startswith("test_"):
                files.append(path)
    return files


@pytest.fixture(scope="module")
def settings_env_names() -> set[str]:
    return env_names_read_by(SETTINGS_FILE, ENV_HELPERS)


@pytest.fixture(scope="module")
def known_env_names(settings_env_names: set[str]) -> set[str]:
    names = set(settings_env_names) | THIRD_PARTY_ENV
    for path in project_python_files():
        names |= env_names_read_by(path, set())
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            for item in shlex.split(args):
                key, sep, value = item.partition("=")
                assert sep, f"ENV uses the legacy `ENV key value` form: {args!r}"
                env[key] = value
    return env


def named_volume(spec: Any) -> tuple[str, str] | None:
    """(source, target) of a named-volume mount; None for bind mounts."""
    if isinstance(spec, dict):
        if spec.get("type", "volume") != "volume":
            return None
        return spec.get("source", ""), spec.get("target", "")
    source, _, rest = str(spec).partition(":")
    if not rest or source.startswith((".", "/", "~", "$")):
        return None
    return source, rest.split(":")[0]


# --- services and images -------------------------------------------------------------------


def test_core_services_and_prometheus_exist(services: dict[str, dict[str, Any]]) -> None:
    missing = (CORE_SERVICES | {"prometheus"}) - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_images_are_pinned_to_the_expected_major_versions(
    services: dict[str, dict[str, Any]],
) -> None:
    assert re.fullmatch(r"postgres:16(\.\d+)*(-[a-z0-9.]+)?", services["postgres"]["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*(-[a-z0-9.]+)?", services["redis"]["image"])
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", services["prometheus"]["image"])
    for name, svc in services.items():
        if "build" in svc:
            continue
        image = svc.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: image {image!r} is not pinned to a tag"


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    one_shots = one_shot_services(services)
    assert one_shots, "no one-shot init service (service_completed_successfully)"
    for name, svc in services.items():
        if name in one_shots:
            # A restart policy would start a finished one-shot again and again.
            assert str(svc.get("restart", "no")) == "no", f"{name}: a one-shot must not restart"
            continue
        check = svc.get("healthcheck") or {}
        test = words(check.get("test"))
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert test and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, (
            f"{name}: long-running service without a healthcheck"
        )
        assert svc.get("restart") in {"unless-stopped", "always", "on-failure"}, (
            f"{name}: long-running service without a restart policy"
        )


def test_service_healthchecks_probe_the_right_thing(services: dict[str, dict[str, Any]]) -> None:
    def probe(name: str) -> str:
        return " ".join(words(services[name]["healthcheck"]["test"]))

    assert "pg_isready" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert "/api/health" in probe("web") and ":8000" in probe("web")
    worker_probe = probe("worker")
    assert "celery" in worker_probe and "inspect ping" in worker_probe
    assert "-A opssuite" in worker_probe or "--app opssuite" in worker_probe
    schedule = option_value(words(services["beat"]["command"]), "--schedule", "-s")
    assert schedule and Path(schedule).name in probe("beat")


def test_postgres_data_is_on_a_declared_named_volume(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    mounts = [named_volume(spec) for spec in compose["services"]["postgres"].get("volumes", [])]
    data_volumes = [m for m in mounts if m and m[1] == "/var/lib/postgresql/data"]
    assert data_volumes, "postgres keeps its data outside a named volume"
    assert data_volumes[0][0] in declared, "postgres' volume is not declared at top level"
    for name, svc in compose["services"].items():
        for spec in svc.get("volumes", []):
            mount = named_volume(spec)
            if mount:
                assert mount[0] in declared, f"{name}: volume {mount[0]!r} not declared"


# --- commands ------------------------------------------------------------------------------


def test_web_runs_gunicorn_with_the_project_wsgi_app(services: dict[str, dict[str, Any]]) -> None:
    cmd = words(services["web"].get("command"))
    assert cmd and Path(cmd[0]).name == "gunicorn", f"web does not run gunicorn: {cmd}"
    assert "opssuite.wsgi:application" in cmd or "opssuite.wsgi" in cmd
    assert option_value(cmd, "--bind", "-b") == "0.0.0.0:8000"
    workers = option_value(cmd, "--workers", "-w")
    assert workers is not None and int(workers) > 1
    published = [str(port) for port in services["web"].get("ports", [])]
    assert any(port.endswith(":8000") for port in published), "web's port 8000 not published"


def test_worker_runs_a_celery_worker_for_opssuite(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert runs_celery(worker, "worker"), f"worker command: {worker.get('command')}"
    assert celery_app(words(worker["command"])) == "opssuite"


def test_exactly_one_beat(services: dict[str, dict[str, Any]]) -> None:
    beats = [name for name, svc in services.items() if runs_celery(svc, "beat")]
    assert beats == ["beat"], f"celery beat must run in exactly one service, got {beats}"
    beat = services["beat"]
    cmd = words(beat["command"])
    assert celery_app(cmd) == "opssuite"
    assert "-B" not in words(services["worker"]["command"]), "worker embeds a second beat"
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    schedule = option_value(cmd, "--schedule", "-s")
    var_dir = environment(beat)["OPSSUITE_VAR_DIR"]
    assert schedule and Path(schedule).parent == Path(var_dir), (
        "beat's schedule file should live in OPSSUITE_VAR_DIR (writable by the app user)"
    )


def test_migrations_run_once_in_a_bootstrap_service(services: dict[str, dict[str, Any]]) -> None:
    bootstraps = [
        name
        for name, svc in services.items()
        if words(svc.get("command"))[-2:] == ["manage.py", "bootstrap"]
    ]
    assert len(bootstraps) == 1, f"expected one `manage.py bootstrap` service, got {bootstraps}"
    init = bootstraps[0]
    assert depends_on(services[init]).get("postgres") == "service_healthy"
    for name in ("web", "worker", "beat"):
        deps = depends_on(services[name])
        assert deps.get(init) == "service_completed_successfully", f"{name} skips {init}"
        assert deps.get("redis") == "service_healthy", f"{name} does not wait for redis"
    for name in ("web", "worker"):
        assert depends_on(services[name]).get("postgres") == "service_healthy"
    for name, svc in services.items():
        cmd = words(svc.get("command"))
        assert "migrate" not in cmd or name == init, f"{name} runs migrate outside {init}"


def test_depends_on_targets_exist_and_are_started_by_default(
    services: dict[str, dict[str, Any]],
) -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, condition in depends_on(svc).items():
            assert dep in services, f"{name} depends on unknown service {dep!r}"
            assert dep != name, f"{name} depends on itself"
            assert condition in conditions, f"{name} -> {dep}: unknown condition {condition!r}"
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits on {dep}'s health"
            if not svc.get("profiles"):
                assert not services[dep].get("profiles"), (
                    f"{name} starts by default but depends on profile-only {dep}"
                )


# --- monitoring profile ----------------------------------------------------------------------


def test_prometheus_is_only_in_the_monitoring_profile(services: dict[str, dict[str, Any]]) -> None:
    assert services["prometheus"].get("profiles") == ["monitoring"]
    for name in CORE_SERVICES:
        assert not services[name].get("profiles"), f"{name} must start without a profile"


def test_prometheus_config_scrapes_web_metrics(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    config_path = option_value(words(prometheus.get("command")), "--config.file") or (
        "/etc/prometheus/prometheus.yml"  # the image's default
    )
    sources = {}
    for spec in prometheus.get("volumes", []):
        source, _, rest = str(spec).partition(":")
        sources[rest.split(":")[0]] = source
    assert config_path in sources, f"nothing mounted at {config_path}"
    config_file = (ROOT / sources[config_path]).resolve()
    assert config_file == ROOT / "deploy" / "prometheus.yml"
    assert config_file.is_file()

    config = yaml.safe_load(config_file.read_text())
    web_jobs = [
        job
        for job in config["scrape_configs"]
        if any("web:8000" in static.get("targets", []) for static in job["static_configs"])
    ]
    assert len(web_jobs) == 1, "prometheus.yml must scrape web:8000 exactly once"
    assert web_jobs[0].get("metrics_path") == "/metrics"
    assert web_jobs[0].get("scheme", "http") == "http"


def test_prometheus_may_read_metrics_but_the_gateway_may_not(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    address = ipaddress.ip_address(services["prometheus"]["networks"]["default"]["ipv4_address"])
    ipam = compose["networks"]["default"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(ipam["subnet"])
    assert address in subnet
    if "ip_range" in ipam:
        assert address not in ipaddress.ip_network(ipam["ip_range"]), (
            "prometheus' fixed address lies in the dynamic range: another container may take it"
        )
    web_env = environment(services["web"])
    allowed = [
        ipaddress.ip_network(net.strip(), strict=False)
        for net in web_env["OPSSUITE_METRICS_ALLOWED_NETWORKS"].split(",")
    ]
    assert any(address in net for net in allowed), "prometheus may not scrape /metrics"
    # Requests to web's published port arrive from the gateway (the subnet's first host):
    # allowing it would open /metrics to anyone who reaches that port.
    gateway = next(subnet.hosts())
    assert not any(gateway in net for net in allowed), "/metrics open to the published port"
    hosts = web_env["ALLOWED_HOSTS"].split(",")
    assert "web" in hosts, "prometheus scrapes with Host: web:8000"
    assert "127.0.0.1" in hosts, "web's healthcheck calls 127.0.0.1:8000"


# --- environment -----------------------------------------------------------------------------


def test_settings_parser_finds_the_core_names(settings_env_names: set[str]) -> None:
    expected = {"DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "CELERY_BROKER_URL", "DEBUG"}
    assert expected <= settings_env_names


def test_third_party_env_names_are_read() -> None:
    spec = importlib.util.find_spec("django_prometheus.exports")
    assert spec and spec.origin
    assert "PROMETHEUS_MULTIPROC_DIR" in Path(spec.origin).read_text()


def test_app_services_set_only_env_vars_the_app_reads(
    services: dict[str, dict[str, Any]], known_env_names: set[str]
) -> None:
    for name, svc in app_services(services).items():
        unknown = set(environment(svc)) - known_env_names
        assert not unknown, f"{name} sets variables nothing reads (misspelt?): {sorted(unknown)}"


def test_app_services_run_in_stack_mode(services: dict[str, dict[str, Any]]) -> None:
    apps = app_services(services)
    assert CORE_SERVICES - {"postgres", "redis"} <= set(apps)
    image_var_dir = dockerfile_env()["OPSSUITE_VAR_DIR"]
    for name, svc in apps.items():
        env = {key: interpolated(value) for key, value in environment(svc).items()}
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme in {"postgres", "postgresql"} and database.hostname == "postgres"
        assert database.path == f"/{services['postgres']['environment']['POSTGRES_DB']}"
        broker = urlsplit(env["CELERY_BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis"
        assert env.get("SECRET_KEY"), f"{name}: SECRET_KEY missing (DEBUG is off)"
        assert env.get("DEBUG", "0").lower() in {"0", "false", "no", "off"}
        # Static files were collected into the image's OPSSUITE_VAR_DIR at build time.
        assert env.get("OPSSUITE_VAR_DIR", image_var_dir) == image_var_dir
        assert "OPSSUITE_STATIC_FROM_FINDERS" not in env
    assert environment(services["web"]).get("PROMETHEUS_MULTIPROC_DIR")


def test_interpolated_variables_have_a_default_or_a_clear_error() -> None:
    """`${VAR}` alone would turn a missing SECRET_KEY or password into an empty string."""
    for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text()):
        if match.group(0) == "$$":
            continue
        operator, argument = match.group(2), match.group(3)
        assert operator in {"-", ":-", ":?"}, f"{match.group(0)}: give a default or :?error"
        if operator == ":?":
            assert argument.strip(), f"{match.group(0)}: say what to set"


# --- image -----------------------------------------------------------------------------------


def test_dockerfile_builds_a_python_311_image_with_the_project() -> None:
    instructions = dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms and re.match(r"python:3\.11(\.\d+)?-slim", froms[-1]), froms
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(re.search(r"\bpip install\b(.*\s)?\.(\s|$)", run) for run in runs), (
        "the Dockerfile never runs `pip install .`"
    )
    assert any(re.search(r"apt-get install\b.*\btesseract-ocr\b", run) for run in runs)


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_collects_static_with_a_build_only_secret(known_env_names: set[str]) -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    collect = [run for run in runs if "collectstatic" in run]
    assert len(collect) == 1
    build_env = dict(
        word.split("=", 1) for word in shlex.split(collect[0]) if re.match(r"^[A-Z_]+=", word)
    )
    assert build_env.get("SECRET_KEY"), "collectstatic needs a (throwaway) SECRET_KEY"
    assert build_env.get("DATABASE_URL", "").startswith("sqlite:")
    assert build_env.get("DEBUG") == "0", "DEBUG must be off to write the static manifest"
    assert set(build_env) <= known_env_names
    image_env = dockerfile_env()
    assert "SECRET_KEY" not in image_env, "a SECRET_KEY baked into the image"
    unknown = {
        name
        for name in image_env
        if name not in known_env_names and not IMAGE_TOOLING_ENV.match(name)
    }
    assert not unknown, f"Dockerfile ENV sets names nothing reads: {sorted(unknown)}"


def test_entrypoint_resets_the_multiprocess_metrics_dir() -> None:
    entrypoints = [args for keyword, args in dockerfile_instructions() if keyword == "ENTRYPOINT"]
    if not entrypoints:
        return
    target = words(yaml.safe_load(entrypoints[-1]))[0]
    assert target.startswith("/app/"), target
    script = ROOT / target.removeprefix("/app/")
    assert script.is_file()
    text = script.read_text()
    assert text.startswith("#!/bin/sh")
    assert "PROMETHEUS_MULTIPROC_DIR" in text
    assert text.rstrip().endswith('exec "$@"'), "the entrypoint must exec the command"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var", ".env"} <= patterns


# --- the real parser, when present ---------------------------------------------------------


def test_docker_compose_config_parses_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker CLI not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("docker compose plugin not installed")
    env = {**os.environ, "SECRET_KEY": "test-only", "POSTGRES_PASSWORD": "test-only"}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "--profile", "monitoring", "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
