"""The worker hook in gunicorn.conf.py, which `make run` and bench/web_load.py pick up."""

import gc
import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_worker_freezes_what_it_loaded():
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the test process goes on creating and dropping apps


def test_gunicorn_reads_the_file_from_the_checkout():
    # gunicorn's own check of the configuration, started where `make run` starts it.
    checked = subprocess.run([sys.executable, "-m", "gunicorn", "--check-config",
                              "--print-config", "archive:create_app()"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    settings = dict(line.split("=", 1) for line in checked.stdout.splitlines() if "=" in line)
    settings = {k.strip(): v.strip() for k, v in settings.items()}
    assert settings["config"] == "./gunicorn.conf.py"
    # As many workers as `make run` starts (WORKERS ?= nproc), not gunicorn's single one:
    # bench/web_load.py serves a checkout with what this file says.
    assert int(settings["workers"]) == len(os.sched_getaffinity(0))
