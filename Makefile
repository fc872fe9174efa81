# The two set-up commands: `make demo` and `make test`. Both create .venv on
# first use (torch first, from its pinned CPU/CUDA wheel, then the rest) and
# reuse it afterwards.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install install-environment demo test check lint clean

$(INSTALLED): pyproject.toml constraints.txt Makefile
	@# A .venv that links to another checkout's environment (as `make demo`'s copy has) is that
	@# checkout's to install: installing here would point its project at this copy.
	@if [ -L $(VENV) ]; then echo "$(VENV) links to $$(readlink $(VENV)): nothing to install here"; \
	else $(MAKE) --no-print-directory install-environment; fi

install-environment:
	test -x $(PYTHON) || python3 -m venv $(VENV)
	# torch first: a bare `torch` requirement elsewhere would pull a multi-GB build.
	$(PYTHON) -m pip install --quiet torch==2.13.0
	# The project, editable (the code stays this checkout's; compat mode puts the checkout on
	# sys.path, so stages/ and benchmarks/ import it from anywhere), its console scripts and
	# test tools; every package pinned in constraints.txt.
	$(PYTHON) -m pip install --quiet -e ".[test]" -c constraints.txt --config-settings editable_mode=compat
	# Every program of .venv puts .venv/bin first on PATH, as activating it would, so that
	# `.venv/bin/dvc repro` runs dvc.yaml's `python -m stages.X` with this environment's python.
	echo 'import os, sys; os.environ["PATH"] = os.pathsep.join(dict.fromkeys(filter(None, [os.path.dirname(sys.executable), *os.environ.get("PATH", "").split(os.pathsep)])))' \
		> "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/venv-path.pth"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/dialogsum-demo demo

# Two test processes (pytest-xdist), given one test at a time as each is free; tests/conftest.py
# has their threads sleep when idle and starts the longest tests first (BENCHMARKS.md: the test suite).
test: $(INSTALLED)
	$(PYTHON) -m pytest --numprocesses 2 --maxschedchunk 1

# The fast tests alone (no stage runs, DVC or torchrun) and the linter: the edit loop's.
check: lint
	$(PYTHON) -m pytest --numprocesses 2 --maxschedchunk 1 -m "not slow"

# ruff: the formatter and the linter (pyproject.toml), over the whole tree.
lint: $(INSTALLED)
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/ruff check --quiet .

# demo/ is the user's once made (their results, experiments, files): never removed here.
clean:
	rm -rf .trainer .pytest_cache
