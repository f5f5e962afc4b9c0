"""CallbellSandbox as a Python object, and its HTTP/1.1 plumbing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from airflow_provider_callbell.sandbox import DEFAULT_TOKEN, CallbellSandbox, SandboxSettings
from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from tests.sandbox.conftest import MakeSandbox


def test_package_exports() -> None:
    import airflow_provider_callbell.sandbox as sandbox_package

    assert sandbox_package.__all__ == [
        "DEFAULT_TOKEN",
        "AccountState",
        "CallbellSandbox",
        "SandboxEvent",
        "SandboxSettings",
    ]
    assert DEFAULT_TOKEN == "sandbox-token"
    assert SandboxSettings().token == DEFAULT_TOKEN


def test_url_token_and_connection(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3, token="tok-1234")

    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}/v1"
    assert sandbox.port > 0
    assert sandbox.token == "tok-1234"
    assert json.loads(sandbox.airflow_connection()) == {
        "conn_type": "callbell",
        "host": sandbox.url,
        "password": "tok-1234",
    }


def test_lifecycle() -> None:
    sandbox = CallbellSandbox(contacts=3)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.url
    assert len(sandbox.contacts()) == 3

    with sandbox:
        with pytest.raises(RuntimeError, match="already running"):
            sandbox.start()
        assert ApiClient(sandbox).get("/auth/me").status_code == 200
    sandbox.stop()

    with sandbox:
        assert ApiClient(sandbox).get("/auth/me").status_code == 200


def test_stop_closes_idle_keep_alive_connections() -> None:
    sandbox = CallbellSandbox(contacts=3).start()
    connection = socket.create_connection(("127.0.0.1", sandbox.port))
    connection.sendall(b"GET /v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n\r\n")
    assert connection.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")

    sandbox.stop()

    connection.settimeout(2)
    assert connection.recv(1) == b""
    connection.close()


def test_keep_alive_serves_many_requests_on_one_connection(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=50)
    split = urlsplit(sandbox.url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port)
    headers = {"Authorization": f"Bearer {sandbox.token}"}

    started = time.perf_counter()
    for page in range(1, 101):
        connection.request("GET", f"/v1/contacts?page={page % 3 + 1}", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") is None
        json.loads(response.read())
    elapsed = time.perf_counter() - started
    connection.close()

    # A response split over several packets stalls ~40 ms on delayed ACKs.
    assert elapsed < 2
    assert sandbox.stats.total_requests == 100


def test_connection_close_is_honoured(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3)
    connection = socket.create_connection(("127.0.0.1", sandbox.port))
    connection.sendall(
        b"GET /v1/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer sandbox-token\r\n\r\n"
    )
    connection.settimeout(2)

    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()

    head, _, body = received.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head
    assert json.loads(body)["status"] == "ok"


def test_python_api_add_update_get(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=10)

    added = sandbox.add_contact(
        name="Siobhán", source="instagram", tags=["VIP"], createdAt="2020-01-01T00:00:00Z", note="hi"
    )
    updated = sandbox.update_contact(added["uuid"], customFields={"Plan": "Pro"}, bsuid="IE.1")

    assert sandbox.contacts()[0] == updated == sandbox.get_contact(added["uuid"])
    assert (added["createdAt"], added["note"], added["tags"]) == ("2020-01-01T00:00:00Z", "hi", ["VIP"])
    assert updated["customFields"] == {"Plan": "Pro"}
    assert sandbox.get_contact(added["uuid"])["bsuid"] == "IE.1"
    with pytest.raises(KeyError):
        sandbox.get_contact("0" * 32)
    with pytest.raises(KeyError):
        sandbox.update_contact("0" * 32, name="x")
    with pytest.raises(ValueError, match="phone number"):
        sandbox.add_contact(name="Twin", phoneNumber=added["phoneNumber"])

    sandbox.delete_contact(added["uuid"])
    assert added["uuid"] not in [contact["uuid"] for contact in sandbox.contacts()]
    with pytest.raises(KeyError):
        sandbox.delete_contact(added["uuid"])


def test_python_api_tags_are_a_list_or_tuple_of_strings(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3)
    uuid = sandbox.contacts()[0]["uuid"]
    before = sandbox.contacts()

    for tags in ("vip", ["vip", 1], None, {"vip"}):
        with pytest.raises(ValueError, match=r"^tags must be a list or tuple of strings, got "):
            sandbox.add_contact(name="Tagged", tags=tags)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^tags must be a list or tuple of strings, got "):
            sandbox.update_contact(uuid, tags=tags)

    assert sandbox.contacts() == before
    assert sandbox.add_contact(name="Tagged", tags=("vip", "lead"))["tags"] == ["vip", "lead"]
    assert sandbox.update_contact(uuid, tags=("abc",))["tags"] == ["abc"]


def test_python_api_refuses_text_that_is_not_unicode(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=3)
    uuid = sandbox.contacts()[0]["uuid"]
    before = sandbox.contacts()
    lone = r" \(not valid Unicode: it holds a lone surrogate\)$"

    with pytest.raises(ValueError, match=r"^Invalid field: name" + lone):
        sandbox.add_contact(name="\ud800")
    with pytest.raises(ValueError, match=r"^Invalid field: customFields\.City" + lone):
        sandbox.add_contact(name="Ada", customFields={"City": "Rome \udc00"})
    with pytest.raises(ValueError, match=r"^Invalid field: tags\[0\]" + lone):
        sandbox.update_contact(uuid, tags=["\udfff"])
    with pytest.raises(ValueError, match=r"^Invalid field: note" + lone):
        sandbox.update_contact(uuid, note="\ud800")
    with pytest.raises(ValueError, match=r"^Invalid field: text" + lone):
        sandbox.receive_message(uuid, "Hi \ud800")

    assert sandbox.contacts() == before
    assert sandbox.messages() == []


def test_teams(make_sandbox: MakeSandbox) -> None:
    teams = make_sandbox(contacts=1, seed=8).teams

    assert len(teams) == 4
    assert teams == CallbellSandbox(contacts=1, seed=8).teams
    assert {"uuid", "name", "default", "members", "createdAt"} == set(teams[0])


@pytest.mark.parametrize(
    "lengths",
    [b"Content-Length: nope\r\n", b"Content-Length: 2\r\nContent-Length: 40\r\n"],
    ids=["text", "two"],
)
def test_invalid_content_length_closes_the_connection(make_sandbox: MakeSandbox, lengths: bytes) -> None:
    sandbox = make_sandbox(contacts=3)
    connection = socket.create_connection(("127.0.0.1", sandbox.port))
    connection.sendall(
        b"POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n"
        + lengths
        + b"\r\n{}"
    )
    connection.settimeout(2)

    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()

    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert received.endswith(b'{"error":"Invalid Content-Length"}')


def test_chunked_bodies_are_refused(make_sandbox: MakeSandbox) -> None:
    client = ApiClient(make_sandbox(contacts=3))

    response = client.send("POST", "/contacts", data=iter([b'{"name": "A"}']))

    assert response.status_code == 411
    assert response.headers["Connection"] == "close"


def test_idle_keep_alive_connections_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_callbell.sandbox import server

    def handlers(port: int) -> list[threading.Thread]:
        """The threads serving connections to ``port``: other tests' threads come and go here."""
        return [
            thread
            for thread in threading.enumerate()
            if "process_request_thread" in thread.name
            and (args := getattr(thread, "_args", ()))
            and isinstance(args[0], socket.socket)
            and args[0].fileno() != -1
            and args[0].getsockname()[1] == port
        ]

    monkeypatch.setattr(server._Handler, "timeout", 3.0)  # room for 20 accepts on a loaded machine
    with CallbellSandbox(contacts=3) as sandbox:
        idle = [socket.create_connection(("127.0.0.1", sandbox.port)) for _ in range(20)]
        deadline = time.monotonic() + 2.5
        while len(handlers(sandbox.port)) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        serving = handlers(sandbox.port)
        assert len(serving) == 20
        for conn in idle:
            conn.settimeout(5)
            assert conn.recv(1) == b""
            conn.close()
        for thread in serving:
            thread.join(5)
        assert not [thread for thread in serving if thread.is_alive()]
