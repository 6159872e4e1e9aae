# newscorpus: every target bootstraps .venv itself (Python 3.11+ and make are all it needs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Label Studio runs from its own virtual environment (its pins clash with ours).
export NEWSCORPUS_STUDIO_ENV ?= $(CURDIR)/.venv-studio

.PHONY: install system-deps studio-env demo demo-clean test screenshot lint format bench docs lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade uv
	$(BIN)/uv pip sync -q --compile-bytecode -p $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	@touch $@

# Label Studio (pinned 1.23.x) in its own virtual environment, with the project's interpreter.
STUDIO_STAMP := $(NEWSCORPUS_STUDIO_ENV)/.installed
studio-env: $(STUDIO_STAMP)

$(STUDIO_STAMP): $(STAMP) requirements-studio.lock
	@test -x $(NEWSCORPUS_STUDIO_ENV)/bin/python || $(BIN)/uv venv -q -p $(BIN)/python $(NEWSCORPUS_STUDIO_ENV)
	$(BIN)/uv pip sync -q --compile-bytecode -p $(NEWSCORPUS_STUDIO_ENV)/bin/python requirements-studio.lock
	@touch $@

# Debian packages the tests need: Chromium for the annotator's-view browser test, git for releases,
# PostgreSQL for `studio start --database postgresql` (run as root, also the unprivileged account
# newscorpus-pg that PostgreSQL runs as where user namespaces are not allowed: docs/studio.md).
system-deps:
	@command -v chromium >/dev/null && command -v git >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium git postgresql >/dev/null; }
	@test "$$(id -u)" != 0 || getent passwd newscorpus-pg >/dev/null || \
	  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin newscorpus-pg

lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --extra bench --extra ray -p 3.11 -o requirements.lock
	printf "label-studio==1.23.2\ngunicorn==27.0.1\n" | $(BIN)/uv pip compile -q - -p 3.11 -o requirements-studio.lock

# The main job: the shipped corpus checked, then the whole pipeline on the bundled samples.
# Ports move with `make demo STUDIO_PORT=8081 SAMPLE_PORT=8766`.
STUDIO_PORT ?= 8080
SAMPLE_PORT ?= 8765
demo: $(STAMP) studio-env
	$(BIN)/newscorpus --corpus corpus validate
	$(BIN)/newscorpus demo --dir demo --studio-port $(STUDIO_PORT) --sample-port $(SAMPLE_PORT)

demo-clean: $(STAMP)
	-@test -d demo/corpus && $(BIN)/newscorpus --corpus demo/corpus studio stop
	rm -rf demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

test: $(STAMP) studio-env system-deps lint
	$(BIN)/pytest -q

# Refresh docs/labelstudio-task.png (the README's picture) from the browser test.
screenshot: $(STAMP) studio-env system-deps
	NEWSCORPUS_UPDATE_DOCS=1 $(BIN)/pytest -q tests/studio/test_browser.py tests/studio/test_layout.py

bench: $(STAMP)
	$(BIN)/uv pip install -q -p $(BIN)/python -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py $(ONLY)

# Regenerate docs/cli.md from the real --help of every command (tests/test_docs.py checks it).
docs: $(STAMP)
	$(BIN)/python scripts/cli_reference.py

clean:
	rm -rf $(VENV) .venv-studio .pytest_cache .mypy_cache .ruff_cache
