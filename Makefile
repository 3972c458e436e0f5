# expctl developer tasks. `make test` installs everything it needs from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Pinned for CPU-only machines: a plain `torch` requirement pulls a multi-GB CUDA build.
# Override on a GPU box, e.g. `make install TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
SYSTEM_PACKAGES ?= screen tmux git

.PHONY: install system-deps test bench lint demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[example,dev,postgres]"
	touch $@

install: system-deps $(VENV)/.installed
	@echo "environment ready: $(VENV) (reused when up to date; delete it to reinstall)"

# screen and tmux are real dependencies of the launchers; install them where apt is available.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (install them with your package manager)"; fi; \
	fi

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/run.py

# The built-in example through two full experiment cycles, then the leaderboard.
demo: install
	scripts/demo.sh

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
