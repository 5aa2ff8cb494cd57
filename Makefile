# Two commands on a fresh machine: `make run` and `make test`. Only python3 is assumed; this file
# installs uv into .tools/ and the locked environment into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced-$(UV_VERSION)

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test browser image-tools prometheus varnish clients lint sandbox bench bench-peer clean

run: $(STAMP)  ## the sandbox vendors and the gateway, GraphiQL on http://127.0.0.1:8000/graphql
	$(VENV)/bin/bezel dev --config bezel.toml

# The second pass: the fast path leans on library internals (schema/internals.py), so the end-to-end and schema
# tests must pass without it too (~5 min); every gateway a test starts takes the switch (tests/support.py).
# Left out of it (~40 s): the order stream's workers and the Redis Cluster, which test the workers and Redis,
# not how a page executes; the first pass runs them.
test: $(STAMP) browser image-tools prometheus varnish clients  ## lint, types, the whole test suite, then e2e and schema tests without the fast path
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest
	BEZEL_GATEWAY__FAST_PATH=false $(VENV)/bin/python -m pytest -q tests/e2e tests/schema \
		--ignore=tests/e2e/test_order_sync.py --ignore=tests/e2e/test_redis_cluster.py

# tests/browser drives Debian's Chromium through Playwright (Playwright's own browsers would need the internet).
# Installed here when missing and running as root; otherwise those tests say what to install (CI=true: they fail).
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
browser:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for tests/browser"; \
		$(APT_INSTALL) chromium || { apt-get update -q && $(APT_INSTALL) chromium; } || \
			echo "chromium could not be installed: tests/browser will be skipped, or fail with CI=true"; \
	fi

# tests/deploy/test_image.py builds the container image with podman on a Debian base made by debootstrap (Docker
# Hub may be out of reach). Installed the same way: when missing and running as root.
IMAGE_TOOLS := podman debootstrap
image-tools:
	@if { ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing podman and debootstrap for tests/deploy/test_image.py"; \
		$(APT_INSTALL) $(IMAGE_TOOLS) || { apt-get update -q && $(APT_INSTALL) $(IMAGE_TOOLS); } || \
			echo "podman or debootstrap could not be installed: tests/deploy/test_image.py will be skipped," \
				"or fail with CI=true"; \
	fi

# tests/deploy/test_observability.py checks the alert rules with promtool and runs a real Prometheus (Debian's)
# against a real gateway. Installed the same way: when missing and running as root.
prometheus:
	@if ! command -v prometheus >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing prometheus for tests/deploy/test_observability.py"; \
		$(APT_INSTALL) prometheus || { apt-get update -q && $(APT_INSTALL) prometheus; } || \
			echo "prometheus could not be installed: its tests will be skipped, or fail with CI=true"; \
	fi

# tests/e2e/test_varnish.py runs a real Varnish (Debian's varnish, vmod xkey from varnish-modules) with
# deploy/varnish/default.vcl in front of a real gateway. Installed the same way: when missing and running as root.
varnish:
	@if { ! command -v varnishd >/dev/null && ! [ -x /usr/sbin/varnishd ]; } \
			|| ! ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing varnish and varnish-modules for tests/e2e/test_varnish.py"; \
			$(APT_INSTALL) varnish varnish-modules || { apt-get update -q && $(APT_INSTALL) varnish varnish-modules; } || \
				echo "varnish could not be installed: its tests will be skipped, or fail with CI=true"; \
		fi; \
	fi

# tests/clients runs the storefront clients teams use (GraphQL Code Generator, Apollo Client 3 and 4, urql,
# graphql-sse, graphql-ws), pinned by tests/clients/package-lock.json, against a real gateway. Installed with
# npm ci when node and npm are on the machine; without them those tests are skipped, or fail with CI=true.
CLIENTS := tests/clients
clients: $(CLIENTS)/node_modules/.installed
$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(CLIENTS) --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: tests/clients will be skipped, or fail with CI=true"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .

sandbox: $(STAMP)  ## the vendor sandbox alone, on :8900
	$(VENV)/bin/bezel sandbox

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	@rm -f $(VENV)/.synced-*
	@touch $@

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .ruff_cache

bench: $(STAMP)  ## every benchmark; results in bench/results/ (needs wrk: apt-get install wrk)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null; } || \
		echo "wrk not found: saturation runs will be skipped (apt-get install wrk)"
	$(UV) sync --locked --group bench --python $(PYTHON)
	$(VENV)/bin/python -m bench.tracing_cost
	$(VENV)/bin/python -m bench.profile_warm
	$(VENV)/bin/python -m bench.profile_live
	$(VENV)/bin/python -m bench.floor
	$(VENV)/bin/python -m bench.freshness
	$(VENV)/bin/python -m bench.run
	$(VENV)/bin/python -m bench.redis_tier --out redis_tier
	$(UV) sync --locked --python $(PYTHON)

# The peer, pinned by bench/peer/package-lock.json, installed into a scratch folder (gitignored) with npm ci.
PEER := bench/.work/peer
bench-peer: $(STAMP)  ## Bezel beside Hive Gateway + GraphQL Mesh; results in bench/results/peer.* (needs node, npm, wrk)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null; } || \
		echo "wrk not found: apt-get install wrk"
	mkdir -p $(PEER)
	cp bench/peer/package.json bench/peer/package-lock.json $(PEER)/
	npm ci --prefix $(PEER) --ignore-scripts --no-audit --no-fund
	$(VENV)/bin/python -m bench.peer
