# Two entry points for a fresh clone: `make quickstart` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= train,contrib,mujoco,minigrid,robotics,ray,report,llm,dev

.PHONY: setup quickstart test bench clean

setup: $(VENV)/.installed

# torch==2.13.0 first: it is the CPU build here, so the `train` extra's torch range is already met
# and pip does not pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

quickstart: setup
	$(VENV)/bin/rewardlab ablate examples/quickstart.yaml

test: setup
	$(PY) -m pytest -q

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV)
