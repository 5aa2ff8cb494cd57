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

.PHONY: run test lint sandbox bench clean

run: $(STAMP)  ## the sandbox vendors and the gateway, GraphiQL on http://127.0.0.1:8000/graphql
	$(VENV)/bin/bezel dev --config bezel.toml

test: $(STAMP)  ## lint, then the whole test suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

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
	$(VENV)/bin/python -m bench.run
	$(UV) sync --locked --python $(PYTHON)
