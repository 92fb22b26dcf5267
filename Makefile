# Two commands for a fresh machine; each does its own set-up.
#   make book   - execute the notebooks (profile $(PROFILE)) and build the HTML book
#   make test   - every notebook under nbval (profile ci, executed once), then the unit
#                 tests and the book built from what nbval executed
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= ci
# JOBS=2 on a CPU: each chapter's seeds first run in parallel single-thread processes (cache
# fill), then the chapter as usual; 1 (the default, what CI runs): one process
JOBS ?= 1
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.installed

.PHONY: book test setup unit notebooks clean

$(SETUP_STAMP): requirements.txt pyproject.toml
	bash scripts/setup.sh "$(PYTHON)" "$(VENV)"
	touch $@

setup: $(SETUP_STAMP)

book: $(SETUP_STAMP)
	$(PY) -m cgan_lib book --profile $(PROFILE) --jobs $(JOBS)
	@echo "Open book/_build/html/index.html"

unit: $(SETUP_STAMP)
	$(PY) -m pytest tests -q

notebooks: $(SETUP_STAMP)
	CGAN_PROFILE=ci TQDM_DISABLE=1 $(PY) -m pytest --nbval-lax notebooks -q -p no:cacheprovider

test: $(SETUP_STAMP)
	CGAN_PROFILE=ci CGAN_JOBS=$(JOBS) TQDM_DISABLE=1 $(PY) -m pytest --nbval-lax notebooks tests -q --durations=15

clean:
	rm -rf book/_build
