# infonb: every target sets up what it needs (virtual environment, torch, data) and skips what is done.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip notes every local index folder it skips; keep its real messages only
QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
VENV  ?= .venv
PY    := $(VENV)/bin/python
# torch/torchvision as pinned for this project's machines; override for other platforms, e.g.
#   make test TORCH="torch torchvision"
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.infonb-installed
ARGS  ?=

.PHONY: help install data run test docs readme export bench lab

help:
	@echo "make run    # train LeNet-5 and measure its information flow (infonb run; ARGS='--epochs 3' to change it)"
	@echo "make test   # clean+sync checks, then every notebook and tests/ under pytest"
	@echo "make docs   # build the documentation site into _site/ (offline, no Quarto)"
	@echo "make bench  # benchmark suite (benchmarks/run.py)"

$(STAMP): settings.ini setup.py
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH) $(QUIET)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]" $(QUIET)
	@touch $@

install: $(STAMP)

data:
	@bash scripts/install_data.sh

run: install data
	$(VENV)/bin/infonb run $(ARGS)

test: install data
	@VENV=$(VENV) bash scripts/test.sh

readme: install
	@VENV=$(VENV) bash scripts/readme.sh

docs: install
	@VENV=$(VENV) bash scripts/docs.sh

export: install
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && VENV=$(VENV) bash scripts/readme.sh

bench: install data
	$(PY) benchmarks/run.py $(ARGS)

lab: install
	$(VENV)/bin/jupyter lab nbs
