"""Free local ports, and a moto server on one (for the local stack's helpers, tests and
benchmarks)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "moto_server"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port on the loopback interface that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in this process, on a free port; its endpoint URL. moto's state belongs to
    the process, so it is reset before and after."""
    import requests
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    endpoint = f"http://{LOOPBACK}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    try:
        yield endpoint
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()
