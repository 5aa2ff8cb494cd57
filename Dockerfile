# syntax=docker/dockerfile:1
# Targets: the gateway image (the default, last stage: `bezel serve`, `bezel worker`) and `sandbox`
# (the fake vendors, for `docker compose up` and demos; never deployed).
#
# `BASE` is any Debian-like image with Python 3.11+ as `python3` and its `venv` module: python:3.11-slim
# (the default), or a bare Debian bookworm with python3, python3-venv and ca-certificates (what
# tests/deploy/test_image.py builds with debootstrap where Docker Hub is out of reach). The build stage
# installs uv from PyPI, at the version the Makefile pins, and nothing needs a compiler (wheels only).
#
# Behind a TLS-inspecting proxy, give the build its CA bundle (optional; unused when absent):
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG UV_VERSION=0.13.9
# One interpreter path for every stage: the venv's python links to the base's python3 (/usr/local/bin on
# python:*-slim, /usr/bin on Debian), and the runtime stages are FROM the same base.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PYTHON=python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN --mount=type=secret,id=ca,required=false,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check --quiet uv==${UV_VERSION}
WORKDIR /app
# The dependencies alone first (this layer is reused until pyproject.toml or uv.lock change), then the project,
# installed as a wheel (not editable): the venv is all the runtime stages need.
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=ca,required=false,target=/run/secrets/ca \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    /opt/uv/bin/uv sync --locked --no-dev --no-install-project
COPY README.md ./
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
COPY connectors ./connectors
# --no-cache, not the cache mount: uv keys the wheel it builds of the project on pyproject.toml alone, so a cached
# one would carry the code of an earlier build.
RUN --mount=type=secret,id=ca,required=false,target=/run/secrets/ca \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    /opt/uv/bin/uv sync --locked --no-dev --no-editable --no-cache

# What both images run on: the base's python3, without pip or setuptools (python:*-slim ships them; the venv
# does not need them), and an unprivileged user with a fixed uid (Kubernetes' runAsNonRoot needs it numeric).
FROM ${BASE} AS runtime
RUN if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip uninstall --yes --quiet pip setuptools wheel || true; \
    fi; \
    useradd --create-home --uid 10001 --user-group bezel
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

# The vendor sandbox: the same dependencies, plus the `sandbox` package the gateway image leaves out.
FROM runtime AS sandbox
COPY --from=build /app/.venv /app/.venv
COPY sandbox ./sandbox
ENV PYTHONPATH=/app
USER 10001:10001
EXPOSE 8900
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8900/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "sandbox"]
CMD ["--host", "0.0.0.0", "--port", "8900"]

# The gateway: the virtualenv and the config only (no uv, no pip, no dev tools, no tests, no sandbox), as an
# unprivileged user that owns nothing it runs. The demo storefront is not in the image, so it is off.
# Production refuses the rest of bezel.toml's development defaults (exit 2, naming each key): give it your
# configuration (BEZEL_CONFIG, BEZEL_*), as deploy/kubernetes/ does; compose runs it as development.
FROM runtime AS gateway
COPY --from=build /app/.venv /app/.venv
COPY bezel.toml /app/bezel.toml
ENV BEZEL_CONFIG=/app/bezel.toml \
    BEZEL_ENV=production \
    BEZEL_GATEWAY__HOST=0.0.0.0 \
    BEZEL_STOREFRONT__ENABLED=false
USER 10001:10001
# 8000: GraphQL and /healthz. 8001: /metrics and /readyz, on loopback unless BEZEL_ADMIN__HOST says otherwise.
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", \
         "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.getenv('BEZEL_GATEWAY__PORT', '8000'), timeout=2)"]
ENTRYPOINT ["bezel"]
# One worker: what Kubernetes wants (it scales pods). On a VM or in compose: --workers 0 (one per core).
CMD ["serve", "--host", "0.0.0.0", "--workers", "1"]
