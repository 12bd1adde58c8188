# Every target is self-contained on a fresh machine: it creates .venv and installs with the tested pins.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# `make reproduce` needs only the library and papermill (the `paper` extra): about half the install time of `dev`
PAPER_STAMP := $(VENV)/.installed-paper-stamp
PRESET ?= quick
RUNS ?= runs
# the paper notebooks, in the order `make reproduce` runs them
PAPER_NBS ?= fig1_kspace table1 table2_ablation fig4_qualitative fig5_ablation claims
# SCALES: the scales of the tables and Figs. 4-5, e.g. SCALES="[2, 4, 8]" (empty: the preset's; quick: [2, 4]); the
# claims notebook keeps the preset's claim scales
SCALES ?=
SCALED_NBS := table1 table2_ablation fig4_qualitative fig5_ablation

.PHONY: install install-paper test sync check-sync reproduce lab clean-runs

# pip byte-compiles what it installs on one core (half of the install time); compileall does it on every core. Files it
# cannot compile are skipped, as pip skips them (torch ships Python-3.12-only test files), hence the `|| true`.
NEW_VENV = test -x $(PY) || python3 -m venv $(VENV)
PIP_INSTALL = $(PY) -m pip install -q --no-compile -c constraints.txt
COMPILE = $(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true

$(STAMP): setup.py settings.ini constraints.txt
	$(NEW_VENV)
	$(PIP_INSTALL) -e ".[dev]"
	@$(COMPILE)
	touch $(STAMP) $(PAPER_STAMP)

$(PAPER_STAMP): setup.py settings.ini constraints.txt
	$(NEW_VENV)
	$(PIP_INSTALL) -e ".[paper]"
	@$(COMPILE)
	touch $(PAPER_STAMP)

install: $(STAMP)  ## create .venv and install mrisr with its dev tools

install-paper: $(PAPER_STAMP)  ## create .venv and install mrisr with what the paper notebooks need (papermill), not the dev tools

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

# DOWNLOAD=1 (or MRISR_DOWNLOAD=1 in the environment): `make reproduce` may fetch the sample data (~20 MB, from its
# public sources, into the user cache) when it is on this machine neither in ../shared/data nor in that cache
DOWNLOAD ?= $(MRISR_DOWNLOAD)

reproduce: install-paper  ## the quick paper reproduction on the sample data -> figures/ (regenerates, i.e. overwrites, them) and the README's tables; DOWNLOAD=1 fetches the data if missing; SCALES="[2, 4, 8]" adds x8 to the tables and figures
	@MRISR_DOWNLOAD=$(DOWNLOAD) $(PY) -c "from mrisr.datasets import require_sample_data; print('sample data:', require_sample_data())"
	@mkdir -p $(RUNS)
	@for nb in $(PAPER_NBS); do \
	  if [ -f nbs/paper/$$nb.ipynb ]; then \
	    echo "== $$nb (preset=$(PRESET))"; \
	    extra=(); case " $(SCALED_NBS) " in *" $$nb "*) [ -n "$(SCALES)" ] && extra=(-y "scales: $(SCALES)");; esac; \
	    MPLBACKEND=Agg $(VENV)/bin/papermill --cwd nbs/paper nbs/paper/$$nb.ipynb $(RUNS)/$$nb.ipynb -p preset $(PRESET) -p overwrite True "$${extra[@]}" || exit 1; \
	  else echo "== $$nb: not written yet, skipped"; fi; \
	done
	$(PY) .ci/readme_tables.py

lab: install  ## JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab nbs

clean-runs:
	rm -rf $(RUNS)

.PHONY: docs docs-test

docs: install  ## rendered HTML of the notebooks with their outputs -> _docs/ (open _docs/index.html); see .ci/build_docs.py
	$(PY) .ci/build_docs.py

docs-test: install  ## open the built _docs/ in headless Chromium (Debian's chromium + chromium-driver, installed if missing) and check it; screenshots in _docs/_screenshots/
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { echo "installing Debian's chromium and chromium-driver"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	$(PY) .ci/test_docs.py

# ---- the GPU check (issue #13; nbs/benchmarks/gpu_check.ipynb): `make gpu-wheels` on a machine with a package index,
# then `make gpu-check` on the GPU machine, which may have PyTorch but no index. Variables (override on the command line):
# GPU_PY: the GPU machine's Python, the one holding its CUDA torch (never replaced: wheels go to a private folder)
GPU_PY ?= python3
# GPU_PYTHON: that Python's version, for `make gpu-wheels`; GPU_PLATFORM: pip platform tag (any = pure-Python wheels only)
GPU_PYTHON ?= 3.12
GPU_PLATFORM ?= any
# WHEELS: the folder to carry to the GPU machine (git-ignored): wheels, manifest.json, shared/data/ (the sample volumes)
WHEELS ?= .whl
# GPU_SITE: where `make gpu-check` installs the carried wheels that machine lacks; GPU_OUT: the check's one JSON
GPU_SITE ?= runs/gpu-site
GPU_OUT ?= runs/gpu_check.json
# GPU_ARGS: more `gpu_check.py run` arguments, e.g. --overwrite, --budget 400, --sections env,correctness
GPU_ARGS ?=

.PHONY: gpu-wheels gpu-check

gpu-wheels: install  ## pure-Python dependencies (not torch) as wheels for Python $(GPU_PYTHON) + the sample volumes the check reads -> $(WHEELS)
	$(PY) nbs/benchmarks/gpu_check.py wheels --dest $(WHEELS) --python-version $(GPU_PYTHON) --platform $(GPU_PLATFORM)

gpu-check:  ## on a CUDA machine (no index needed): install from $(WHEELS) into $(GPU_SITE), then the GPU check (<= 8 min on an H200) -> $(GPU_OUT)
	$(GPU_PY) nbs/benchmarks/gpu_check.py install --wheels $(WHEELS) --target $(GPU_SITE)
	PYTHONPATH="$(CURDIR)/$(GPU_SITE):$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" \
	MRISR_SHARED="$$(if [ -d $(WHEELS)/shared/data ]; then echo $(CURDIR)/$(WHEELS)/shared; else echo "$${MRISR_SHARED:-}"; fi)" \
	$(GPU_PY) nbs/benchmarks/gpu_check.py run --out $(GPU_OUT) $(GPU_ARGS)
