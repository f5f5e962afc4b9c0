"""Message arguments, the same in the send operator, its rows and the notifier: clear and early."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_callbell.messaging.batch import message_of
from airflow_provider_callbell.notifications.callbell import CallbellNotifier
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.conftest import SandboxFactory, connect

TO = "+39 333 000 1111"
TEMPLATE = {"template_uuid": "tpl-1"}

#: (arguments, what the error says): each refused by the operator and the notifier alike.
BAD_PARTS: list[tuple[dict[str, Any], str]] = [
    ({**TEMPLATE, "template_values": "a,b"}, "template_values must be a list"),
    ({**TEMPLATE, "template_values": "ab"}, "template_values must be a list"),
    ({**TEMPLATE, "template_values": ["", "x"]}, "template_values must be non-blank"),
    ({**TEMPLATE, "template_values": ["x", " \t"]}, "template_values must be non-blank"),
    ({**TEMPLATE, "template_values": "['x', '']"}, "template_values must be non-blank"),
    ({**TEMPLATE, "template_values": "None"}, "template_values must be a list"),
    ({"metadata": ""}, "metadata must be a mapping"),
    ({"metadata": "k=v"}, "metadata must be a mapping"),
    ({"metadata": "['k', 'v']"}, "metadata must be a mapping"),
    ({"channel": "WhatsApp"}, "channel must be a channel type in lowercase"),
    ({"channel": "whats app"}, "channel must be a channel type in lowercase"),
    ({"channel": "web-chat"}, "channel must be a channel type in lowercase"),
    ({"channel": ""}, "channel must be a non-empty string"),
    ({"callbell_conn_id": " callbell_default"}, "callbell_conn_id must be an Airflow connection id"),
    ({"callbell_conn_id": "callbell default"}, "callbell_conn_id must be an Airflow connection id"),
    ({"callbell_conn_id": "x" * 251}, "callbell_conn_id must be an Airflow connection id"),
]
#: Media URLs that no server could fetch, or that mean something else than they seem.
BAD_MEDIA_URLS = [
    "http://",
    "https://",
    "https:///image.png",
    "https://a b/c.png",
    "https://cdn.example/a b.png",
    "https://cdn.example/a\tb.png",
    "https://999.1.1.1/x.png",
    "https://1.2.3.4.5/x.png",
    "https://10.0.0/x.png",
    "https://01.2.3.4/x.png",
    "https://exa_mple.com/x.png",
    "https://cdn.example:99999/x.png",
    "https://cdn.example:port/x.png",
    "https://[zz::1]/x.png",
    "ftp://cdn.example/x.png",
    "file:///etc/passwd",
    "cdn.example/x.png",
    "//cdn.example/x.png",
    "javascript:alert(1)",
]


def _id(value: Any) -> str:
    return repr(value)[:60]


def _makers(kwargs: dict[str, Any]) -> list[Callable[[], object]]:
    return [
        lambda: CallbellSendMessageOperator(task_id="send", to=TO, text="hi", **kwargs),
        lambda: CallbellNotifier(to=TO, text="hi", **kwargs),
    ]


@pytest.mark.parametrize(("kwargs", "message"), BAD_PARTS, ids=_id)
def test_bad_message_parts_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    for make in _makers(kwargs):
        with pytest.raises(ValueError, match=message):
            make()


@pytest.mark.parametrize("url", BAD_MEDIA_URLS, ids=_id)
def test_media_urls_that_cannot_be_fetched(url: str) -> None:
    with pytest.raises(ValueError, match=r"media_url must be an http\(s\) URL such as") as caught:
        CallbellSendMessageOperator(task_id="send", to=TO, media_url=url)
    assert "got" in str(caught.value)
    with pytest.raises(ValueError, match=r"^must be an http|media_url must be an http"):
        message_of({"to": TO, "media_url": url}, {})


@pytest.mark.parametrize(
    "url", ["https://cdn.example/a%20b.png?v=2", "http://127.0.0.1:8080/x.pdf", "https://[::1]/x.png"]
)
def test_media_urls_that_can_be_fetched(url: str) -> None:
    assert CallbellSendMessageOperator(task_id="send", to=TO, media_url=url).media_url == url


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"channel": "Instagram"}, "channel must be a channel type in lowercase"),
        ({"channel": 7}, "channel must be a non-empty string"),
        ({"channel_uuid": "../channels"}, "channel_uuid must be a Callbell identifier"),
        ({**TEMPLATE, "template_values": "['x', ' ']"}, "template_values must be non-blank"),
        ({**TEMPLATE, "template_values": "a,b"}, "template_values must be a list"),
        ({"metadata": "{'k': 1}"}, r"metadata\['k'\] must be a text"),
        ({"phoneNumber": "+39 333 999 0000"}, "has a to and a phoneNumber that differ"),
        ({"text": None, "media_url": "https://e.com/x.pdf", "media_type": ""}, "media_type must be one of"),
    ],
    ids=_id,
)
def test_bad_row_parts_fail_the_row_naming_the_key(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        message_of({"to": TO, "text": "hi", **row}, {})
    assert TO not in str(caught.value)


def test_row_parts_are_read_as_the_arguments_are() -> None:
    exported_channel = {"uuid": "ch-1", "type": "whatsapp"}
    message = message_of(
        {
            "phoneNumber": TO,
            "channel": exported_channel,
            **TEMPLATE,
            "template_values": "['Ada', '3']",
            "metadata": "{'batch': 'b1'}",
        },
        {"channel": "instagram", "channel_uuid": "ch-9"},
    )
    assert (message.channel, message.channel_uuid) == ("instagram", "ch-9")
    assert (message.template_values, message.metadata) == (("Ada", "3"), {"batch": "b1"})
    overridden = message_of({"to": TO, "text": "x", "channel": "telegram", "channel_uuid": "ch-2"}, {})
    assert (overridden.channel, overridden.channel_uuid) == ("telegram", "ch-2")


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=20, seed=8)
    connect(monkeypatch, sandbox)
    return sandbox


def test_templated_parts_are_checked_once_rendered_and_sent(account: CallbellSandbox) -> None:
    contact = next(c for c in account.contacts() if c["source"] == "whatsapp")
    account.close_window(contact["uuid"])
    template = next(t for t in account.templates if t["status"] == "approved" and t["text"].count("{{") == 2)
    notifier = CallbellNotifier(
        to=contact["phoneNumber"],
        template_uuid=template["uuid"],
        template_values="{{ ['Ada', run_id] }}",
        channel="{{ 'whatsapp' }}",
        metadata='{"run": "{{ run_id }}"}',
    )
    context: Any = {"run_id": "manual__1", "dag": None}
    notifier.render_template_fields(context)
    notifier.notify(context)

    (sent,) = [m for m in account.messages() if m["direction"] == "outbound"]
    assert (sent["templateValues"], sent["from"]) == (["Ada", "manual__1"], "whatsapp")
    assert sent["metadata"]["run"] == "manual__1"


def test_rendered_tuples_are_lists_everywhere() -> None:
    kwargs: dict[str, Any] = {**TEMPLATE, "template_values": "('a', 'b')"}
    operator = CallbellSendMessageOperator(task_id="send", to=TO, **kwargs)
    assert operator._check()["template_values"] == ["a", "b"]
    CallbellNotifier(to=TO, **kwargs)
    assert message_of({"to": TO, **kwargs}, {}).template_values == ("a", "b")


def test_a_blank_media_type_is_refused_as_without_media() -> None:
    medias: list[dict[str, Any]] = [{"media_url": "https://e.com/x.pdf"}, {"text": "hi"}]
    for media in medias:
        with pytest.raises(ValueError, match="media_type"):
            CallbellSendMessageOperator(task_id="send", to=TO, media_type="", **media)


def test_a_row_may_give_its_number_twice_alike() -> None:
    assert message_of({"to": TO, "phoneNumber": "+393330001111", "text": "hi"}, {}).to == TO
