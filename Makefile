# The two commands of the README: `make demo` and `make test`. Both set up from nothing first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast test-cluster test-faults screenshots audit lint stack-up stack-down clean

$(STAMP): pyproject.toml setup.py .ci/setup
	bash .ci/setup
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/driftline demo

# The tests marked redis_cluster (end to end, exactness, labels, history, ...) are the part of the suite that
# runs a second time on a local 3-master Redis Cluster (~3.5 min): `make test` does both.
CLUSTER_TESTS := DRIFTLINE_TEST_REDIS=cluster $(PY) -m pytest -m redis_cluster tests/integration tests/test_streams

test: $(STAMP)
	$(PY) -m pytest
	$(CLUSTER_TESTS)

test-fast: $(STAMP)  ## unit tests and doctests only: no Kafka, no Redis
	$(PY) -m pytest -m "not integration"

test-cluster: $(STAMP)  ## the tests marked redis_cluster, on a local Redis Cluster of 3 masters
	$(CLUSTER_TESTS)

test-faults: $(STAMP)  ## the fault suite alone (tests/faults: kills Kafka, Redis and workers; ~11 min)
	$(PY) -m pytest -m faults

screenshots: $(STAMP)  ## re-take docs/img/*.png: the browser test on the demo's data (~1 min)
	DRIFTLINE_SCREENSHOTS=docs/img $(PY) -m pytest tests/integration/test_dashboard_browser.py

audit: $(STAMP)  ## known vulnerabilities in the installed dependencies; says NOT AUDITED when it could not look
	$(PY) .ci/audit.py

lint: $(STAMP)  ## ruff, and mypy --strict on the driftline.* packages (.ci/typecheck: why and how)
	$(VENV)/bin/ruff check .
	bash .ci/typecheck

stack-up: $(STAMP)
	$(VENV)/bin/driftline stack up

stack-down: $(STAMP)
	$(VENV)/bin/driftline stack down

clean:
	rm -rf $(VENV) build *.egg-info
