# One image for every logferry process: `shipper run` (the default), `shipper index`,
# `shipper setup` and the demo app (`--entrypoint loadtest ... app`).
#
#   docker build -t logferry:latest .
#   docker run --rm logferry:latest --help
#
# The health check asks http://127.0.0.1:$HEALTHCHECK_PORT$HEALTHCHECK_PATH: the defaults fit
# `shipper run` (9108, /healthz); set HEALTHCHECK_PORT=9109 for `shipper index`, and
# HEALTHCHECK_PORT=8080 HEALTHCHECK_PATH=/health for the demo app.

# The official image's CPython is built with PGO and LTO: the shipper spends 13-15 % less CPU per
# event on it than on a plain build (docs/sizing.md). Another base image should keep that.
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtualenv holding the dependencies and the project's wheel ---
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, read from pyproject.toml alone: this layer is rebuilt only when they
# change, not on every edit of the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install -r requirements.txt

# The project as a wheel (not an editable install: the image holds no source tree to edit).
# The wheel is all there is: the files the code reads (index templates, Kibana saved objects,
# alert rules, Alertmanager routes, the stack's pom.xml) are package data under shipper/, read
# with importlib.resources (shipper/resources.py). The last command fails the build if the
# installed package misses one (-I: import the installed package, not the sources here).
COPY README.md ./
COPY shipper ./shipper
COPY pipelines ./pipelines
COPY loadtest ./loadtest
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/pip install --no-deps /tmp/wheels/*.whl \
    && /opt/venv/bin/python -I -m shipper.resources

# --- runtime: the base image plus the virtualenv, run as an unprivileged user ---
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="logferry" \
      org.opencontainers.image.description="Tail JSON application logs, enrich them to ECS, ship them through Kafka into daily Elasticsearch indices." \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid (10001: clear of the base image's and of common host users) so that
# Kubernetes' runAsNonRoot can verify it and volumes can be prepared for it.
# The directories are created here, owned by that user, because a Docker named volume mounted
# on an existing directory starts as a copy of it, owner included: the demo app can then write
# /var/log/app, and the shipper its checkpoints, without running as root.
RUN groupadd --system --gid 10001 logferry \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/logferry --no-create-home \
       --shell /usr/sbin/nologin logferry \
    && install -d -o 10001 -g 10001 -m 0755 /var/lib/logferry /var/lib/logferry/state /var/log/app

COPY --from=builder /opt/venv /opt/venv

# PYTHONDONTWRITEBYTECODE: the wheel's bytecode was compiled at install time, and the root
# filesystem may be read-only (Kubernetes readOnlyRootFilesystem).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTHCHECK_PORT=9108 \
    HEALTHCHECK_PATH=/healthz

# The working directory is writable by the user: the relative defaults (state_dir
# .shipper-state, the demo app's logs/app.log) work without any config.
WORKDIR /var/lib/logferry
USER 10001:10001

# 8080: demo app; 9108: shipper metrics/health; 9109: indexer metrics/health.
EXPOSE 8080 9108 9109

# Python's standard library only: the slim base has no curl or wget. urlopen raises on a refused
# connection and on any status >= 400, which makes the check fail.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HEALTHCHECK_PORT', '9108') + os.environ.get('HEALTHCHECK_PATH', '/healthz'), timeout=4)"]

ENTRYPOINT ["shipper"]
CMD ["run"]
