# Two commands do everything: `make run` (set-up + demo) and `make test` (set-up + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_DIR := companion_kernel/kernels/node
STAMP := $(VENV)/.installed
# Jupyter Enterprise Gateway pins jupyter_server<2 / jupyter_client<7: its own environment,
# used only by its tests.
EG_STAMP := .venv-eg/.installed

.PHONY: run test setup lint bench clean system-deps

run: setup
	$(BIN)/companion-kernel demo

test: setup $(EG_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

setup: $(STAMP) $(NODE_DIR)/node_modules/.package-lock.json $(VENV)/.kernelspecs

# bubblewrap is the isolation layer, libseccomp compiles its system-call filter and
# util-linux's setpriv/prlimit drop privileges and set limits; install them when we can
# (root with apt), else say why not.
system-deps:
	@missing=""; command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	  ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || missing="$$missing libseccomp2"; \
	  { command -v setpriv && command -v prlimit; } >/dev/null 2>&1 || missing="$$missing util-linux"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	       (apt-get update -qq && apt-get install -y -qq $$missing)) || echo "warning: could not install$$missing"; \
	    else echo "note:$$missing not found; see 'companion-kernel doctor'"; fi; \
	  fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install -q -e '.[dev,data,gateway]'
	touch $@

$(EG_STAMP): tests/gateway/enterprise_gateway_env.py
	$(PYTHON) tests/gateway/enterprise_gateway_env.py

$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Kernel specs go into the virtual environment only (sys.prefix), never the user's folders.
$(VENV)/.kernelspecs: $(STAMP) $(NODE_DIR)/node_modules/.package-lock.json $(wildcard companion_kernel/languages/*.py)
	$(BIN)/companion-kernel install-kernelspecs --sys-prefix
	touch $@

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/companion-kernel bench

clean:
	rm -rf $(VENV) .venv-eg $(NODE_DIR)/node_modules
