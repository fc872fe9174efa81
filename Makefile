# The two set-up commands: `make demo` and `make test`. Both create .venv on
# first use (torch first, from its pinned CPU/CUDA wheel, then the rest) and
# reuse it afterwards.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test clean

$(INSTALLED): requirements.txt constraints.txt Makefile
	test -x $(PYTHON) || python3 -m venv $(VENV)
	# torch first: a bare `torch` requirement elsewhere would pull a multi-GB build.
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -r requirements.txt -c constraints.txt
	# Every program of .venv puts .venv/bin first on PATH, as activating it would, so that
	# `.venv/bin/dvc repro` runs dvc.yaml's `python -m stages.X` with this environment's python.
	echo 'import os, sys; os.environ["PATH"] = os.pathsep.join(dict.fromkeys(filter(None, [os.path.dirname(sys.executable), *os.environ.get("PATH", "").split(os.pathsep)])))' \
		> "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/venv-path.pth"
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(PYTHON) -m stages.offline demo

test: $(INSTALLED)
	$(PYTHON) -m pytest

clean:
	rm -rf demo .trainer .pytest_cache
