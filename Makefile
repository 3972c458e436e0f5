# expctl developer tasks. `make test` installs everything it needs from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pinned for CPU-only machines: a plain `torch` requirement pulls a multi-GB CUDA build.
# Override on a GPU box, e.g. `make install TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
SYSTEM_PACKAGES ?= screen tmux git chromium
# The lowest typer pyproject admits; the venv gets the highest. `make test` runs the start-up
# and CLI tests against both.
TYPER_LOWEST ?= 0.26.0
LOWEST_DIR := $(CURDIR)/.cache/typer-lowest
CLI_TESTS ?= tests/cli
# pytest-xdist workers: most tests wait on real subprocesses, sessions and jobs, so more
# workers than cores still shorten the suite. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -q -rs -n $(TEST_WORKERS) --dist loadgroup

# Bytecode caches are what users have; without them every expctl process of the tests and
# benchmarks compiles expctl again (some sandboxes set this variable).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install system-deps test test-typer-lowest bench lint demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[example,dev,postgres,report]"
	touch $@

install: system-deps $(VENV)/.installed
	@echo "environment ready: $(VENV) (reused when up to date; delete it to reinstall)"

# screen and tmux are real dependencies of the launchers, chromium of the report's browser
# test; install them where apt is available.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (install them with your package manager)"; fi; \
	fi

test: install
	$(PYTEST)
	$(MAKE) --no-print-directory test-typer-lowest

# The CLI tests again with the lowest supported typer in front of the venv's (PYTHONPATH wins;
# the console script and subprocesses see it too).
test-typer-lowest: install
	@test -f $(LOWEST_DIR)/.typer-$(TYPER_LOWEST) || { rm -rf $(LOWEST_DIR) && \
	  $(BIN)/pip install -q --no-deps --target $(LOWEST_DIR) "typer==$(TYPER_LOWEST)" && \
	  touch $(LOWEST_DIR)/.typer-$(TYPER_LOWEST); }
	PYTHONPATH=$(LOWEST_DIR) EXPCTL_TEST_TYPER=$(TYPER_LOWEST) $(PYTEST) -p no:cacheprovider \
	  $(CLI_TESTS)

bench: install
	$(BIN)/python bench/run.py

# The built-in example through two full experiment cycles, then the leaderboard.
demo: install
	scripts/demo.sh

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
