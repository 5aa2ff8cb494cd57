# syntax=docker/dockerfile:1
# Build: install the locked dependencies, then the project, into /app/.venv (no dev tools).
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
COPY connectors ./connectors
RUN uv sync --locked --no-dev --no-editable

# Run: the virtualenv and the config only, as an unprivileged user.
FROM python:3.11-slim
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
