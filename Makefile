# Two commands from a fresh clone (CPU, no internet beyond the package registries):
#   make train   - the main job: DCGAN on the embedded digits dataset (creates .venv first)
#   make test    - the test suite (creates .venv first)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.install-stamp
# default suite: everything but slow and GPU tests; CI adds slow ones (MARKERS="not gpu")
MARKERS ?= not slow and not gpu
ARGS ?=
JOBS ?= auto

.PHONY: install browser train test test-gpu gpu-check lint bench benchmark gallery mutation clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

# Debian's chromium and its chromedriver, for the HYPE page's browser test (skipped when they are absent)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1; then \
	  echo "installed chromium and chromium-driver"; \
	else echo "chromium / chromium-driver not installed: the browser test will be skipped"; fi

# pytest-xdist: JOBS workers (auto: one per core; JOBS=0 runs in this process), a test file per worker at a
# time (its module fixtures train once); then the serial tests alone (exit status 5: none selected)
test: $(STAMP) browser
	$(PY) -m pytest -m "($(MARKERS)) and not serial" -n $(JOBS) --dist loadfile $(ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m "($(MARKERS)) and serial" $(ARGS) || [ $$? -eq 5 ]

test-gpu: $(STAMP)
	$(PY) -m pytest -m gpu $(ARGS)

# the GPU checks in one script (benchmarks/gpu_check.py): GPU tests, DDP, images/s per precision and memory
# format, one JSON file (ARGS="--out FILE"); tiny on a CPU. On the lent GPU machine (no venv there) run it
# as its docstring says: python3 benchmarks/gpu_check.py --out $OUT/gpu_check.json
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# every script in benchmarks/, one after the other: benchmarks/results.json and the tables in its README
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(ARGS)

benchmark: bench

# every model trained on real data, pictures and a table in docs/gallery/ (benchmarks/gallery.py; hours on 2
# CPU cores, resumable: a second call continues each unfinished entry); ARGS="--only dcgan_mnist" for one
gallery: $(STAMP)
	$(PY) benchmarks/gallery.py $(ARGS)

# mutation testing of the maths modules ([tool.mutmut] in pyproject.toml: which modules, which fast tests),
# then one JSON line per module (benchmarks/mutation_score.py; equivalent mutants in
# benchmarks/mutation_equivalent.txt). From scratch each time; one torch thread per worker (a forked worker
# inheriting an OpenMP pool deadlocks). ARGS go to mutmut run, e.g. ARGS="--max-children 4".
mutation: $(STAMP)
	rm -rf mutants
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/mutmut run $(if $(ARGS),$(ARGS),--max-children 2)
	$(PY) benchmarks/mutation_score.py

clean:
	rm -rf $(VENV) logs .pytest_cache
