# Every target is self-contained on a fresh machine: it creates .venv and installs with the tested pins.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PRESET ?= quick
RUNS ?= runs
# the paper notebooks, in the order `make reproduce` runs them
PAPER_NBS ?= fig1_kspace table1 table2_ablation fig4_qualitative fig5_ablation

.PHONY: install test sync check-sync reproduce lab clean-runs

$(STAMP): setup.py settings.ini constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install mrisr with its dev tools

sync: install  ## regenerate mrisr/ from the notebooks and clean the notebooks
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean

check-sync: install  ## fail if mrisr/ and nbs/ are out of sync or notebooks unclean
	$(PY) .ci/check_sync.py

test: install  ## sync check, README tables = figures/, then every notebook's tests (cells flagged slow/gpu skipped)
	$(PY) .ci/check_sync.py
	$(PY) .ci/readme_tables.py --check
	$(PY) .ci/test_notebooks.py

test-slow: install  ## also the slow cells
	$(PY) .ci/test_notebooks.py --flags slow

reproduce: install  ## the quick paper reproduction on the sample data -> figures/ (regenerates, i.e. overwrites, them) and the README's tables
	@mkdir -p $(RUNS)
	@for nb in $(PAPER_NBS); do \
	  if [ -f nbs/paper/$$nb.ipynb ]; then \
	    echo "== $$nb (preset=$(PRESET))"; \
	    MPLBACKEND=Agg $(VENV)/bin/papermill --cwd nbs/paper nbs/paper/$$nb.ipynb $(RUNS)/$$nb.ipynb -p preset $(PRESET) -p overwrite True || exit 1; \
	  else echo "== $$nb: not written yet, skipped"; fi; \
	done
	$(PY) .ci/readme_tables.py

lab: install  ## JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab nbs

clean-runs:
	rm -rf $(RUNS)
