"""OCR tests run with network sockets blocked: the engine and its models must be on disk
(a model fetched at run time would fail here, as it would in a production room)."""

import socket

import pytest


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_UNIX:
            return real_connect(sock, address)
        raise NetworkBlocked(f"network access attempted: {address}")

    def create_connection(address, *args, **kwargs):
        raise NetworkBlocked(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
