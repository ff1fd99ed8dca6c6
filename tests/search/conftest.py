"""Fixtures for the search engine: every test runs on both backends."""

from __future__ import annotations

import pytest

from archive.services.search import BACKENDS, open_search

from .sample import CORPUS


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def service(backend, tmp_path):
    """An empty index of each backend."""
    svc = open_search(backend, tmp_path / "index")
    yield svc
    svc.close()


@pytest.fixture(scope="module", params=BACKENDS)
def archive(request, tmp_path_factory):
    """The CORPUS indexed once per module and backend, for read-only tests."""
    svc = open_search(request.param, tmp_path_factory.mktemp(request.param) / "index")
    svc.index_many(CORPUS)
    yield svc
    svc.close()
