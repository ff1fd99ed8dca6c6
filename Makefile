# Juanzong — the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app archive
HOST ?= 127.0.0.1
PORT ?= 5000
# One sync worker per core: requests are CPU-bound and hold SQLite's write lock only for
# their audit event, so more processes or threads only share the same cores (measured
# with bench/web_load.py: docs/benchmarks.md, "Web load").
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# Background worker processes (OCR, docs/ocr.md), started beside gunicorn at lower
# priority; each runs one job at a time with its engine's threads capped (OCR_THREADS).
OCR_WORKERS ?= 1

.PHONY: run test lint venv system-deps setup bench bench-load clean compile-translations translations \
	postgres postgres-stop test-postgres

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Debian packages the product needs: CJK fonts (demo PDFs, stamped downloads),
# Chromium (browser tests), the libraries OpenCV loads for OCR (libGL, GLib) and
# LibreOffice Writer without its GUI (the PDF access copies of DOCX files, issue 18).
# Installed only when missing.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	/sbin/ldconfig -p | grep -q 'libGL\.so\.1 ' || missing="$$missing libgl1"; \
	/sbin/ldconfig -p | grep -q 'libgthread-2\.0\.so\.0 ' || missing="$$missing libglib2.0-0"; \
	[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing="$$missing fonts-noto-cjk"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The .mo files are build products (git-ignored); a broken catalogue must stop the build.
compile-translations: venv
	$(VENV)/bin/pybabel -q compile -d archive/translations

# After adding or changing user-facing text: re-extract the Chinese msgids, merge them into
# each catalogue, then translate the new entries (tests/web/test_translations.py fails on
# any left empty or fuzzy).
translations: venv
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k lazy_gettext --project=Juanzong \
	  -o archive/translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i archive/translations/messages.pot -d archive/translations

setup: venv system-deps compile-translations
	$(FLASK) init-db
	$(FLASK) demo-data --if-empty
	$(FLASK) reindex --if-needed

# The workers re-queue at start-up the jobs a killed worker left; they stop with gunicorn.
run: setup
	@pids=""; for i in $$(seq $(OCR_WORKERS)); do $(FLASK) worker & pids="$$pids $$!"; done; \
	trap 'kill $$pids 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - "archive:create_app()"

# TEST_WORKERS=2 runs the suite on two pytest-xdist processes, one per core (each has its
# own temporary folders and, on PostgreSQL, its own databases; docs/testing.md). The default
# stays one process until two whole runs have passed with two (not yet: docs/testing.md).
TEST_WORKERS ?= 0
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test: venv system-deps compile-translations
	$(PYTEST)

# PostgreSQL (issue 21, docs/postgresql.md): a throw-away cluster under build/pg, reached only
# by its unix socket there (no TCP: another checkout's cluster cannot collide with it).
# Debian's postgresql is installed when missing. initdb and pg_ctl refuse to run as root, so
# as root they run as the `postgres` user, which is given the folder; where that user cannot
# reach the checkout (a home folder), the cluster lives in /tmp and build/pg links to it.
# A running cluster is reused; a pid file left by a killed one is removed.
PG_DIR := $(CURDIR)/build/pg
PG_PORT ?= 55432
PG_SERVER_URL := postgresql+psycopg://postgres@/postgres?host=$(PG_DIR)&port=$(PG_PORT)

postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  echo "installing system packages: postgresql"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }
	@bin=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); as=""; \
	if [ "$$(id -u)" = 0 ]; then \
	  as="runuser -u postgres --"; mkdir -p $(CURDIR)/build; \
	  if [ ! -e $(PG_DIR) ] && ! $$as test -x $(CURDIR)/build; then \
	    ln -s "$$(mktemp -d /tmp/juanzong-pg.XXXXXX)" $(PG_DIR); fi; \
	fi; \
	mkdir -p $(PG_DIR); dir=$$(readlink -f $(PG_DIR)); \
	[ -z "$$as" ] || chown postgres: "$$dir"; \
	if [ ! -f "$$dir/data/PG_VERSION" ]; then \
	  $$as $$bin/initdb -D "$$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null; fi; \
	if ! $$bin/pg_isready -q -h "$$dir" -p $(PG_PORT); then \
	  rm -f "$$dir/data/postmaster.pid" "$$dir/.s.PGSQL.$(PG_PORT).lock"; \
	  $$as $$bin/pg_ctl -D "$$dir/data" -l "$$dir/server.log" -w -s start -o \
	    "-p $(PG_PORT) -k $$dir -c listen_addresses= -c fsync=off -c synchronous_commit=off \
	     -c full_page_writes=off -c max_connections=200"; \
	fi

postgres-stop:
	@bin=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); \
	as=$$( [ "$$(id -u)" = 0 ] && echo "runuser -u postgres --" ); \
	[ ! -f $(PG_DIR)/data/postmaster.pid ] || $$as $$bin/pg_ctl -D "$$(readlink -f $(PG_DIR))/data" -s -m fast stop

# The whole suite on PostgreSQL (TEST_DATABASE_URL: tests/databases.py puts a migrated
# template's rows back between tests). Stops the cluster afterwards only if it started it.
test-postgres: venv system-deps compile-translations
	@bin=$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); \
	running=$$( [ -n "$$bin" ] && $$bin/pg_isready -q -h $(PG_DIR) -p $(PG_PORT) && echo yes ); \
	$(MAKE) --no-print-directory postgres || exit 1; \
	status=0; TEST_DATABASE_URL='$(PG_SERVER_URL)' $(PYTEST) || status=$$?; \
	[ -n "$$running" ] || $(MAKE) --no-print-directory postgres-stop; exit $$status

lint: venv
	$(VENV)/bin/ruff check archive tests bench config.py

bench: venv system-deps
	$(PY) bench/ingest.py
	$(PY) bench/search.py --backend all --docs 10000

# Web load (issue 14): locust in its own virtualenv, HEAD measured beside the baseline
# commit (a temporary git worktree) in one run; figures in bench/out/. BASELINE=<commit>.
BASELINE ?= 2ac2b1c
BENCH_VENV := .venv-bench

$(BENCH_VENV)/.installed: requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -r requirements-bench.txt
	touch $@

bench-load: venv compile-translations $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/web_load.py --think --baseline-ref $(BASELINE)
	$(BENCH_VENV)/bin/python bench/web_load.py --saturate --baseline-ref $(BASELINE)

clean:
	rm -rf $(VENV) $(BENCH_VENV) instance storage index tests/artifacts
