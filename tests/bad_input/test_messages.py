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
    *(
        ({"metadata": {key: "v"}}, "metadata keys must be texts of 1 to 50 characters that show something")
        for key in (" ", "\u200b", " a ", "Idempotency_Key", "IDEMPOTENCY_KEY")
    ),
    ({"metadata": '{"k": "1", "k": "2"}'}, "metadata: an object names 'k' more than once"),
    ({"metadata": "{'k': '1', 'k': '2'}"}, "metadata: an object names 'k' more than once"),
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
    "https://localhost/x.png",
    "https://cdn.localhost/x.png",
    "http://127.0.0.1:8080/x.pdf",
    "https://[::1]/x.png",
    "https://10.1.2.3/x.png",
    "http://[64:ff9b::7f00:1]/x.png",  # NAT64 and 6to4 forms of 127.0.0.1
    "http://[2002:7f00:1::]/x.png",
    "https://192.168.0.7/x.png",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1%25eth0]/x.png",
    "https://printer.local/x.png",
    "https://intranet/x.png",
    "https://user:secret@cdn.example/x.png",
    "https://cdn.example@evil.example/x.png",
    "https://cdn.example\\@evil.example/x.png",
    "https://cdn.example\\x.png",
    "cdn.example/x.png",
    "//cdn.example/x.png",
    "javascript:alert(1)",
    "https://cdn.example:0/x.png",
    f"https://{'a' * 64}.example/x.png",
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
    "url",
    [
        "https://cdn.example/a%20b.png?v=2",
        "http://93.184.215.14:8080/x.pdf",
        "https://[2606:4700::1111]/x.png",
        "https://bücher.example/x.png",
        "https://xn--bcher-kva.example/x.png",
        "https://cdn.example./x.png",
    ],
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
        ({"to": "", "phoneNumber": " "}, "has no recipient"),
        ({"to": None}, "has no recipient"),
        ({"channel": {"type": "whatsapp"}}, "channel must be a non-empty string"),
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


def test_a_blank_recipient_key_is_no_recipient() -> None:
    """An export's contact without a number has ``phoneNumber: ""``: it is not a second number."""
    assert message_of({"to": TO, "phoneNumber": "", "text": "hi"}, {}).to == TO
    assert message_of({"to": " ", "phoneNumber": TO, "text": "hi"}, {}).to == TO


def test_a_rows_content_replaces_the_defaults_other_kind() -> None:
    media = {"media_url": "https://e.com/x.pdf", "media_type": "document"}
    sent_media = message_of({"to": TO, **media}, {"text": "hi", **TEMPLATE, "template_values": ["a"]})
    assert (sent_media.text, sent_media.template_uuid, sent_media.media_url) == (
        None,
        None,
        media["media_url"],
    )
    sent_text = message_of({"to": TO, "text": "hi"}, media)
    assert (sent_text.text, sent_text.media_url, sent_text.media_type) == ("hi", None, None)
    with pytest.raises(ValueError, match="media_url cannot be combined"):
        message_of({"to": TO, "text": "hi", "media_url": "https://e.com/x.pdf"}, {})


def test_a_rows_template_takes_none_of_the_default_templates_values() -> None:
    """They fill the default template's placeholders: in another template they would say wrong things."""
    defaults = {**TEMPLATE, "template_values": ["Ada", "3"]}

    own = message_of({"to": TO, "template_uuid": "tpl-2"}, defaults)
    assert (own.template_uuid, own.template_values) == ("tpl-2", ())
    given = message_of({"to": TO, "template_uuid": "tpl-2", "template_values": ["Bo"]}, defaults)
    assert given.template_values == ("Bo",)
    assert message_of({"to": TO}, defaults).template_values == ("Ada", "3")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({**TEMPLATE, "template_values": ["{{ params.name }}", ""]}, "template_values must be non-blank"),
        ({**TEMPLATE, "template_values": ["{{ params.name }}", 3]}, "template_values must be texts"),
        ({"metadata": {"run": "{{ run_id }}", "big": "x" * 501}}, r"metadata\['big'\] must be a text"),
        ({"metadata": {"run": "{{ run_id }}", "idempotency_key": "k"}}, "other than 'idempotency_key'"),
    ],
    ids=_id,
)
def test_known_items_beside_templated_ones_are_checked_at_parse_time(
    kwargs: dict[str, Any], message: str
) -> None:
    for make in _makers(kwargs):
        with pytest.raises(ValueError, match=message):
            make()


def test_templated_items_are_checked_once_rendered_not_as_their_template() -> None:
    long_template = "{{ params.note }}" + " " * 600
    kwargs: dict[str, Any] = {
        **TEMPLATE,
        "template_values": ["{{ params.a }}", "b"],
        "metadata": {"note": long_template},
    }
    for make in _makers(kwargs):
        make()
    operator = CallbellSendMessageOperator(task_id="send", to=TO, text="hi", metadata={"note": long_template})
    operator.metadata = {"note": "x" * 501}
    with pytest.raises(ValueError, match=r"metadata\['note'\] must be a text"):
        operator._check()


def test_notifier_errors_name_the_notifier_and_at_run_time_the_task() -> None:
    with pytest.raises(ValueError, match=r"^CallbellNotifier: to must be a phone number"):
        CallbellNotifier(to="call me", text="hi")
    notifier = CallbellNotifier(to="{{ params.on_call }}", text="hi")
    notifier.to = "call me"
    context: Any = {"run_id": "manual__1", "ti": type("TI", (), {"task_id": "load"})()}
    with pytest.raises(ValueError, match=r"^CallbellNotifier 'load': to must be a phone number"):
        notifier.notify(context)


def test_a_notifier_sends_once_to_a_number_written_two_ways() -> None:
    notifier = CallbellNotifier(to=[TO, "+393330001111", "0039 333 000 1111", "0039 333 000 2222"], text="hi")
    assert notifier._recipients() == [TO, "0039 333 000 2222"]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("0039 333 000 1111", "+39 333 000 1111"),
        ("(0039) 333 000 1111", "(+39) 333 000 1111"),
        ("00-39 333 000 1111", "+39 333 000 1111"),
        ("(00)39 333 000 1111", "+39 333 000 1111"),
        ("(00) 39 333 000 1111", "+39 333 000 1111"),
        ("0333 000 1111", "0333 000 1111"),
        ("000 333 000 1111", "000 333 000 1111"),
    ],
)
def test_a_leading_00_is_sent_as_the_plus_it_means(given: str, sent: str) -> None:
    assert message_of({"to": given, "text": "hi"}, {}).body("key")["to"] == sent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"text": "Ciao \x1b[31mAda"},
            r"text must hold no control characters other than line breaks and tabs: it holds U\+001B",
        ),
        ({"text": "Ciao\x00"}, "text must hold no control characters other than line breaks"),
        (
            {**TEMPLATE, "template_values": ["Ada\nLovelace"]},
            "template_values must hold no control characters, line",
        ),
        ({**TEMPLATE, "template_values": ["Ada\t"]}, "template_values must hold no control characters"),
        ({"metadata": {"k\x00": "v"}}, "metadata keys must hold no control characters"),
        ({"metadata": {"k": "v\x07"}}, r"metadata\['k'\] must hold no control characters"),
        ({"text": "Ada pays \u202e0001\u202c EUR"}, r"U\+202E \(right-to-left override\)"),
        ({**TEMPLATE, "template_values": ["Ada\u2028Lovelace"]}, r"U\+2028 \(line separator\)"),
        ({"text": "\u200b"}, "text must be a non-empty string, not only characters that show nothing"),
        (
            {**TEMPLATE, "template_values": ["Ada", "\u3164"]},
            "template_values must be non-blank texts",
        ),
        # marks with no letter to go on: a variation selector, the grapheme joiner, accents
        *(
            ({"text": marks}, "text must be a non-empty string, not only characters that show nothing")
            for marks in ("\ufe0f", "\u034f", "\u0301\u0301", "\U000e0100")
        ),
        ({**TEMPLATE, "template_values": ["Ada", "\ufe0f"]}, "template_values must be non-blank texts"),
        ({"text": "Ada \ud800"}, r"U\+D800 \(a lone surrogate\)"),
        ({**TEMPLATE, "template_values": ["Ada", "\udc00"]}, r"U\+DC00 \(a lone surrogate\)"),
    ],
    ids=_id,
)
def test_control_characters_are_refused_where_nothing_means_them(
    kwargs: dict[str, Any], message: str
) -> None:
    makers: list[Callable[[], object]] = [
        lambda: CallbellSendMessageOperator(task_id="send", to=TO, **{"text": "hi", **kwargs}),
        lambda: CallbellNotifier(to=TO, **{"text": "hi", **kwargs}),
        lambda: message_of({"to": TO, "text": "hi", **kwargs}, {}),
    ]
    for make in makers:
        with pytest.raises(ValueError, match=message) as caught:
            make()
        assert "Ada" not in str(caught.value)


def test_line_breaks_and_tabs_are_text() -> None:
    message = message_of({"to": TO, "text": "Ciao Ada,\n\tgrazie!", "metadata": {"note": "a\nb"}}, {})
    assert message.text == "Ciao Ada,\n\tgrazie!"


def test_right_to_left_text_and_emoji_sequences_are_text() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    text = f"\u2067\u0645\u0631\u062d\u0628\u0627\u2069 Ada {family}\u2028grazie"
    message = message_of(
        {"to": TO, "text": text, **TEMPLATE, "template_values": ["\u200f\u0623\u062f\u0627"]}, {}
    )
    assert (message.text, message.template_values) == (text, ("\u200f\u0623\u062f\u0627",))


@pytest.mark.parametrize("to", ["", "[]", [" "]], ids=_id)
def test_the_notifier_offers_no_none_it_would_refuse(to: Any) -> None:
    with pytest.raises(ValueError, match=r"^CallbellNotifier: to must") as caught:
        CallbellNotifier(to=to, text="hi")
    assert "None" not in str(caught.value)


def test_find_sent_message_reads_its_arguments_as_send_message_does(sandbox_factory: SandboxFactory) -> None:
    """A key send_message refuses is refused too, before any request (a confident "not found"
    for a key that could never have been sent would invite a resend); since is a moment as
    everywhere; a message is an OutgoingMessage."""
    from airflow_provider_callbell.api.messages import OutgoingMessage
    from tests.conftest import quick_hook

    sandbox = sandbox_factory(contacts=20, seed=2)
    contact = next(c for c in sandbox.contacts() if c["source"] == "whatsapp")
    message = OutgoingMessage(to=contact["phoneNumber"], text="Ciao")
    hook = quick_hook()
    for key in ("k 1", " k1", ""):
        with pytest.raises(ValueError, match="idempotency_key must be"):
            hook.find_sent_message(message, key, since="2026-01-01")
    with pytest.raises(ValueError, match=r"^since must be"):
        hook.find_sent_message(message, "k1", since="yesterday")
    with pytest.raises(ValueError, match="message must be an OutgoingMessage"):
        hook.find_sent_message({"to": contact["phoneNumber"], "text": "Ciao"}, "k1", since="2026-01-01")  # type: ignore[arg-type]
    assert sandbox.stats.total_requests == 0

    sandbox.receive_message(contact["uuid"])  # the 24-hour window opens
    sent = hook.send_message(message, idempotency_key="k1")
    assert hook.find_sent_message(message, "k1", since="2000-01-01") == {
        "uuid": sent["uuid"],
        "status": "enqueued",
    }


def test_a_status_answered_for_another_message_is_invalid() -> None:
    """Taken for the one asked, another message's 'delivered' would settle a wait for delivery."""
    from airflow_provider_callbell.api.messages import sent_message
    from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

    answer = {"message": {"uuid": "m2", "status": "delivered"}}
    with pytest.raises(
        CallbellInvalidResponseError, match=r"a request for message m1 with another message \(m2\)"
    ):
        sent_message(answer, "m1")
    assert sent_message(answer, "m2")["status"] == "delivered"
