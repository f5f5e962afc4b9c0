"""A thin HTTP client for the sandbox tests: the base URL and token filled in."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox


class ApiClient:
    """Sends requests to one sandbox with a bearer token (``None``: no header)."""

    def __init__(self, sandbox: CallbellSandbox, token: str | None = "") -> None:
        self.url = sandbox.url
        self.session = requests.Session()
        token = sandbox.token if token == "" else token
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.url + path, json=body, timeout=10)

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=10, **kwargs)

    def walk_pages(self, **params: Any) -> list[dict[str, Any]]:
        """Every contact, page by page until an empty page."""
        contacts: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.get("/contacts", page=page, **params)
            response.raise_for_status()
            batch = response.json()["contacts"]
            if not batch:
                return contacts
            contacts.extend(batch)
            page += 1

    def walk_cursor(self, after: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every contact, following ``meta.next`` from the first page or from ``after``."""
        contacts: list[dict[str, Any]] = []
        while True:
            response = self.get("/contacts", **params, **({"after": after} if after else {}))
            response.raise_for_status()
            payload = response.json()
            contacts.extend(payload["contacts"])
            after = payload["meta"]["next"]
            if after is None:
                return contacts


def uuids(contacts: list[dict[str, Any]]) -> list[str]:
    """The uuids of ``contacts``, in order."""
    return [contact["uuid"] for contact in contacts]


def exchange(sandbox: CallbellSandbox, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes on a new connection; everything received until the sandbox closes it."""
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=timeout) as connection:
        connection.sendall(data)
        return read_until_closed(connection)


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything received until the peer closes (or resets) the connection."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(65536):
            received += chunk
    return received
