# syntax=docker/dockerfile:1
# Targets: the gateway image (the default, last stage: `bezel serve`, `bezel worker`) and `sandbox`
# (the fake vendors, for `docker compose up` and demos; never deployed). `BASE` is any image with
# Python 3.11+, pip and venv; uv comes from PyPI at the version the Makefile pins.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check uv==${UV_VERSION}
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --locked --no-dev --no-install-project
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
COPY connectors ./connectors
RUN /opt/uv/bin/uv sync --locked --no-dev --no-editable

# The vendor sandbox: the same dependencies, plus the `sandbox` package the gateway image leaves out.
FROM ${BASE} AS sandbox
RUN useradd --create-home --uid 10001 sandbox
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY sandbox ./sandbox
ENV PATH=/app/.venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1
USER sandbox
EXPOSE 8900
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8900/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "sandbox"]
CMD ["--host", "0.0.0.0", "--port", "8900"]

# The gateway: the virtualenv and the config only (no dev tools, no sandbox), as an unprivileged user.
FROM ${BASE} AS gateway
RUN useradd --create-home --uid 10001 bezel
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY bezel.toml /app/bezel.toml
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BEZEL_CONFIG=/app/bezel.toml \
    BEZEL_ENV=production \
    BEZEL_GATEWAY__HOST=0.0.0.0
USER bezel
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["bezel"]
CMD ["serve"]
