"""gunicorn's settings beside those `make run` gives on its command line (workers, bind).

gunicorn reads this file from the directory it starts in; `bench/web_load.py` serves a
checkout the same way, and `bench/request_cpu.py` calls the hook below as a worker would.
"""

import gc
import os

# One sync worker per core, as `make run` starts them (WORKERS ?= nproc): a worker per core
# served the most (docs/benchmarks.md, "Web load"). The command line's --workers wins.
workers = len(os.sched_getaffinity(0))


def post_worker_init(worker) -> None:
    """Freeze what a worker holds once it has loaded the app: the code, the mappers, the
    routes and the configuration live as long as the worker, and the cyclic garbage
    collector walked all of them on each of its oldest-generation passes, about 0.7 ms
    a dossier page (bench/request_cpu.py's GC column). Frozen objects are never
    collected; what the app allocates later (its caches, each request's objects) is
    collected as before."""
    gc.collect()
    gc.freeze()
