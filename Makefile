# Two entry points for a fresh clone: `make quickstart` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= train,contrib,mujoco,minigrid,robotics,ray,marl,report,llm,dev

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

# The real small model for the LLM tests; only `make test` needs it, so `make quickstart` does not wait.
# llama-cpp-python builds from source. A default build targets the build machine's CPU (-march=native),
# and on a CPU that reports AMX to a kernel that does not grant it (seen on these sandboxed machines)
# the server dies with a general protection fault on its first request. So it is built once, portable
# (GGML_NATIVE=OFF: AVX2/FMA, no AVX-512 or AMX), into a folder of our own; pip's own wheel cache would
# serve a native build made earlier, since it does not key wheels on CMAKE_ARGS.
LLAMA_WHEELS ?= $(HOME)/.cache/rewardlab/llama-portable
LLAMA_CMAKE := -DGGML_NATIVE=OFF
setup-llm-local: $(VENV)/.installed-llm-local

$(VENV)/.installed-llm-local: $(VENV)/.installed
	ls $(LLAMA_WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel -q --no-cache-dir --no-deps -w $(LLAMA_WHEELS) "llama-cpp-python==0.3.36"
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip install -q --find-links $(LLAMA_WHEELS) -e ".[llm-local]"
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
