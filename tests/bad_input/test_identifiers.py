"""Identifiers and paths: nothing reaches another endpoint or another directory."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import pytest

from airflow_provider_callbell.api.messages import OutgoingMessage
from airflow_provider_callbell.notifications.callbell import CallbellNotifier
from airflow_provider_callbell.operators.contacts import (
    CallbellListContactsOperator,
    CallbellUpsertContactsOperator,
)
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from tests.conftest import quick_hook

NOT_IDS: list[Any] = [
    ".",
    "..",
    "../auth/me",
    "a/b",
    "a\\b",
    "%2e%2e",
    "?page=2",
    "#x",
    "a b",
    "a\nb",
    "None",
    "null",
    "",
    " ",
    None,
    3,
    ["abc"],
    "-abc",
]
NOT_PHONES: list[Any] = [
    "+0039 333 000 1111",  # + then 0: neither +39 nor 0039
    "+(0)39 333 000 1111",
    ".",
    "..",
    "../contacts",
    "+39/123",
    "123?x",
    "",
    "abc",
    "+",
    None,
    39123456,
    "0",
    "+39 1",
    "1" * 18,
    "((39) 333 000 1111",
    "(39 333 000 1111",
    "+39 333) 000 1111",
    "(+39 (333)) 000 1111",
    "+39 333 000 1111+",
]


def _id(value: Any) -> str:
    return repr(value)


@pytest.mark.parametrize("value", NOT_IDS, ids=_id)
def test_contact_uuids(sandbox: Any, value: Any) -> None:
    with pytest.raises(ValueError, match=r"^uuid must be a"):
        quick_hook().get_contact(value)
    assert sandbox.stats.total_requests == 0


def test_the_phone_lookups_path_is_no_contact_uuid(sandbox: Any) -> None:
    hook = quick_hook()
    for call in (hook.get_contact, hook.delete_contact, lambda uuid: hook.update_contact(uuid, note="x")):
        with pytest.raises(ValueError, match="uuid must be a contact's uuid, got 'phone'"):
            call("phone")
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("value", NOT_PHONES, ids=_id)
def test_phone_numbers(sandbox: Any, value: Any) -> None:
    with pytest.raises(ValueError, match=r"^phone_number must be a"):
        quick_hook().get_contact_by_phone(value)
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("value", [v for v in NOT_IDS if v is not None], ids=_id)
def test_channel_uuids(sandbox: Any, value: Any) -> None:
    with pytest.raises(ValueError, match=r"^channel_uuid must be a"):
        quick_hook().get_contact_by_phone("+39 123 456 789", channel_uuid=value)
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("argument", ["source", "team_uuid"])
@pytest.mark.parametrize("value", [v for v in NOT_IDS if v is not None], ids=_id)
def test_filter_ids(sandbox: Any, argument: str, value: Any) -> None:
    calls: list[Callable[[], object]] = [
        lambda: quick_hook().iter_contacts(**{argument: value}),
        lambda: CallbellListContactsOperator(task_id="export", **{argument: value}),
        lambda: CallbellNewLeadsSensor(task_id="wait", **{argument: value}),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=f"{argument} must be a"):
            call()
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("value", ["WhatsApp", "TELEGRAM", "web-chat", "whats app"])
def test_a_source_is_a_channel_type_as_callbell_spells_it(sandbox: Any, value: Any) -> None:
    """Lowercase, as Callbell names integration types: no guessing whether its filter folds case."""
    calls: list[Callable[[], object]] = [
        lambda: quick_hook().iter_contacts(source=value),
        lambda: CallbellListContactsOperator(task_id="export", source=value),
        lambda: CallbellNewLeadsSensor(task_id="wait", source=value),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="source must be a channel type in lowercase letters"):
            call()
    assert sandbox.stats.total_requests == 0
    assert {contact["source"] for contact in quick_hook().iter_contacts(source="telegram")} == {"telegram"}


def test_an_output_path_is_written_as_it_was_checked(sandbox: Any, tmp_path: Path) -> None:
    """Surrounding white space (a no-break space too) is dropped before the check and the write."""
    result = CallbellListContactsOperator(task_id="export", output_path=f"\xa0{tmp_path}/x.jsonl ").execute(
        cast(Any, {})
    )

    assert result["path"] == f"{tmp_path}/x.jsonl"
    assert [path.name for path in tmp_path.iterdir()] == ["x.jsonl"]


def test_a_phone_number_stored_as_a_number_is_told_apart() -> None:
    """A Parquet int64 or JSON number column: its + and leading zeros are gone."""
    from airflow_provider_callbell.arguments import phone_number

    for number in (393330001111, 393330001111.0):
        with pytest.raises(
            ValueError, match=r"phone_number must be a phone number as text.*got a (int|float), not a number"
        ):
            phone_number(number, "phone_number")


def test_phone_numbers_with_brackets_first_are_numbers() -> None:
    from airflow_provider_callbell.arguments import phone_number

    assert phone_number(" (02) 1234 5678 ", "phone_number") == "(02) 1234 5678"
    assert phone_number("(+39) 333 000 1111", "phone_number") == "(+39) 333 000 1111"
    with pytest.raises(ValueError, match="phone_number must be a phone number"):
        phone_number("( )", "phone_number")


def test_good_ids_and_numbers_reach_their_contact(sandbox: Any) -> None:
    contact = sandbox.contacts()[0]
    hook = quick_hook()

    assert hook.get_contact(f" {contact['uuid']} ")["uuid"] == contact["uuid"]
    assert hook.get_contact_by_phone(contact["phoneNumber"])["uuid"] == contact["uuid"]


@pytest.mark.parametrize(
    "path",
    [
        "contacts.jsonl",
        "./out/contacts.csv",
        "out/contacts.parquet",
        "",
        " ",
        "/data/",
        "s3://bucket/dir/",
        "file://data/x.jsonl",
        "~/x.jsonl",
        "file://localhost/tmp/x.jsonl",
        "file:////tmp/x.jsonl",
        "FILE:////tmp/x.jsonl",
        "/tmp/a\tb.jsonl",
        "/tmp/ctl\x1b[31m.jsonl",
        "/tmp/x.jsonl/.",
        "/tmp/x.jsonl/..",
    ],
)
def test_relative_or_empty_output_paths_fail_at_parse_time(path: str) -> None:
    with pytest.raises(ValueError, match=r"'export': output_path must (be|name a file)"):
        CallbellListContactsOperator(task_id="export", output_path=path)


@pytest.mark.parametrize("templated", [False, True])
def test_a_directory_as_output_path_fails_before_any_request(
    sandbox: Any, tmp_path: Path, templated: bool
) -> None:
    target = tmp_path / "contacts.jsonl"
    target.mkdir()
    operator = CallbellListContactsOperator(
        task_id="export", output_path="{{ params.path }}" if templated else str(target)
    )
    operator.render_template_fields(cast(Any, {"params": {"path": str(target)}}))

    with pytest.raises(ValueError, match=f"output_path '{target}' names a directory"):
        operator.execute(cast(Any, {}))

    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("uuids", ["abc", "4a7c1e", b"abc", {"abc": 1}, {"abc"}, 3, None, []], ids=repr)
def test_the_delivery_trigger_takes_a_list_of_uuids_not_a_string(uuids: Any) -> None:
    from airflow_provider_callbell.triggers.messages import CallbellMessageDeliveryTrigger

    with pytest.raises(ValueError, match=r"uuids must (be a list of message uuids|list at least one)"):
        CallbellMessageDeliveryTrigger(uuids)
    with pytest.raises(ValueError, match="uuids must be a Callbell identifier"):
        CallbellMessageDeliveryTrigger(["abc", "../x"])  # each entry of a list is checked
    assert CallbellMessageDeliveryTrigger(("abc", "d-1")).serialize()[1]["uuids"] == ["abc", "d-1"]


NOT_CONN_IDS: list[Any] = [
    " callbell_default",
    "callbell_default ",
    "call bell",
    "a\tb",
    "",
    "x" * 251,
    3,
]


@pytest.mark.parametrize("value", NOT_CONN_IDS, ids=lambda value: repr(value)[:40])
def test_connection_ids_are_airflow_connection_ids(value: Any) -> None:
    from airflow_provider_callbell.hooks.callbell import CallbellHook
    from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook
    from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger

    makers: list[Callable[[], object]] = [
        lambda: CallbellListContactsOperator(task_id="export", callbell_conn_id=value),
        lambda: CallbellNewLeadsSensor(task_id="wait", callbell_conn_id=value),
        lambda: CallbellNewLeadsTrigger(
            since="2026-01-01T00:00:00+00:00", baseline=[], callbell_conn_id=value
        ),
        lambda: CallbellHook(value),
        lambda: CallbellAsyncHook(value),
        lambda: CallbellListContactsOperator(task_id="export", output_path="/x.jsonl", output_conn_id=value),
        lambda: CallbellUpsertContactsOperator(task_id="up", input_path="/x.jsonl", input_conn_id=value),
        lambda: CallbellUpsertContactsOperator(
            task_id="up", contacts=[], report_path="/r.jsonl", report_conn_id=value
        ),
        lambda: CallbellSendMessageOperator(task_id="send", input_path="/x.jsonl", input_conn_id=value),
    ]
    for make in makers:
        with pytest.raises(ValueError, match="conn_id must be an Airflow connection id"):
            make()


@pytest.mark.parametrize(
    "path",
    [
        *("../auth/me", "contacts/../auth/me", "/contacts", "contacts/", "contacts?page=2", "a b", "", "./x"),
        *("contacts/%2e%2e/auth", "contacts/%2E./x", "contacts/..;/x"),
        # an encoded slash or backslash, once or twice: ".." to a server that decodes first
        *("contacts%2F..%2Fauth%2Fme", "contacts%252F..%252Fauth", "contacts%5C..%5Cauth", "a%2F%2Fb"),
    ],
)
def test_request_paths_stay_under_the_api(sandbox: Any, path: str) -> None:
    import asyncio

    from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

    with pytest.raises(ValueError, match="path must be"):
        quick_hook().request("GET", path)
    with pytest.raises(ValueError, match="path must be"):
        asyncio.run(CallbellAsyncHook().request("GET", path))
    assert sandbox.stats.total_requests == 0


PHONE_CALLS: list[Any] = [
    lambda number: CallbellNotifier(to=number, text="hi"),
    lambda number: CallbellNotifier(to=[number, "+39 333 000 2222", ""], text="hi"),
    lambda number: CallbellNotifier(to=f"'{number}', '+39 333 000 2222'", text="hi"),
    lambda number: CallbellSendMessageOperator(task_id="send", to=number, text="hi"),
    lambda number: OutgoingMessage(to=number, text="hi"),
    lambda number: quick_hook().create_contact(number, name="Ada"),
    lambda number: quick_hook().get_contact_by_phone(number),
]


@pytest.mark.parametrize("number", ["+44 7700 900123 456789", "((44) 7700 900123", "+44 7700-900-123 x12"])
@pytest.mark.parametrize("call", PHONE_CALLS, ids=range(len(PHONE_CALLS)))
def test_errors_never_show_a_phone_number(sandbox: Any, call: Any, number: str) -> None:
    with pytest.raises(ValueError, match="must be") as caught:
        call(number)
    for shown in (number, "7700", "+39 333 000 2222"):
        assert shown not in str(caught.value)
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("key", [" mark", "mark ", "a\nb", "x" * 251, "None", "", 7], ids=_id)
def test_watermark_keys_are_variable_keys_as_given(key: Any) -> None:
    with pytest.raises(ValueError, match="watermark_key must be an Airflow Variable key"):
        CallbellListContactsOperator(task_id="export", incremental=True, watermark_key=key)


def test_the_default_watermark_key_of_long_ids_fits_a_variable() -> None:
    from airflow_provider_callbell.exports.watermark import MAX_KEY_LENGTH, default_key

    assert default_key("scores", "export") == "callbell_watermark.scores.export"
    long_keys = {default_key("d" * 200, task) for task in ("t" * 100, "u" * 100)}
    assert len(long_keys) == 2
    assert all(len(key) <= MAX_KEY_LENGTH for key in long_keys)


def test_a_write_names_a_path_under_the_api_and_a_write_method(sandbox: Any) -> None:
    from airflow_provider_callbell.api.writes import Write

    first, second = (contact["uuid"] for contact in sandbox.contacts()[:2])
    for method, path in [
        ("DELETE", f"contacts/{first}/../{second}"),
        ("PATCH", f"/contacts/{first}"),
        ("get", "auth/me"),
    ]:
        with pytest.raises(ValueError, match=r"(path|method) must be"):
            quick_hook().write(Write(method, path, None, lambda answer: answer))
    assert sandbox.stats.total_requests == 0
    assert sandbox.get_contact(second)["uuid"] == second


@pytest.mark.parametrize("key", [42, "   ", "a\x1b[31mb", "k" * 501], ids=_id)
def test_idempotency_keys_are_checked_before_the_send(sandbox: Any, key: Any) -> None:
    with pytest.raises(ValueError, match="idempotency_key must"):
        quick_hook().send_message(OutgoingMessage(to="+39 333 000 1111", text="hi"), idempotency_key=key)
    assert sandbox.stats.total_requests == 0


def test_a_media_host_with_another_full_stop_is_read_as_idna_reads_it() -> None:
    with pytest.raises(ValueError, match="is not a public host name"):
        OutgoingMessage(to="+39 333 000 1111", media_url="https://files.corp\u3002internal/a.png")


def test_non_strings_are_named_by_type_not_shown() -> None:
    with pytest.raises(ValueError, match="name must be a non-empty string, got a list") as caught:
        quick_hook().update_contact("c0ffee", name=["+39 333 000 1111"])
    assert "333" not in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": None}, "method must be one of 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'"),
        ({"method": ""}, "method must be one of"),
        ({"method": "get"}, "method must be one of"),
        ({"method": "FOO"}, "method must be one of"),
        ({"params": "page=2&x"}, "params must be a mapping of names to texts or numbers"),
        (
            {"params": {"page": None}},
            r"params\['page'\] must be text or a finite int",
        ),
        (
            {"params": {"page": float("nan")}},
            r"params\['page'\] must be text or a finite int",
        ),
        (
            {"params": {"page": True}},
            r"params\['page'\] must be text or a finite int",
        ),
        ({"params": {"": "1"}}, "params must name each parameter with non-empty text"),
        pytest.param(
            {"params": {"page": 10**5000}},
            r"params\['page'\] holds a number with no exact plain form",
            id="a 5001-digit int",
        ),
        ({"params": {"page": Fraction(1, 3)}}, r"params\['page'\] holds a number with no exact plain form"),
        ({"json": {1: "a", "1": "b"}}, "json must be what JSON writes .*keys must be texts, got 1"),
        ({"json": {"a": ["\ud800"]}}, "json must be what JSON writes .*a lone surrogate"),
        (
            {"params": {"x": "\ud800"}},
            r"params\['x'\] must hold no control characters.*U\+D800 \(a lone surrogate\)",
        ),
        ({"params": {"\udc80": "1"}}, r"the names of params must hold no control characters.*U\+DC80"),
        ({"params": {"x": "a\x00b"}}, r"params\['x'\] must hold no control characters.*U\+0000"),
        (
            {"params": {" page ": "2"}},
            "params must name each parameter with non-empty text without spaces around it",
        ),
        ({"json": {"a": [{True: 1}]}}, "json must be what JSON writes .*keys must be texts, got True"),
    ],
    ids=_id,
)
def test_a_request_is_checked_before_it_is_sent_in_both_hooks(
    sandbox: Any, arguments: dict[str, Any], message: str
) -> None:
    import asyncio

    from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

    call = {"method": "GET", "path": "contacts", **arguments}
    with pytest.raises(ValueError, match=message):
        quick_hook().request(call.pop("method"), call.pop("path"), **call)
    call = {"method": "GET", "path": "contacts", **arguments}
    with pytest.raises(ValueError, match=message):
        asyncio.run(CallbellAsyncHook().request(call.pop("method"), call.pop("path"), **call))
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("page", [2, 2.0, Decimal("2.00"), Fraction(4, 2), "2"], ids=_id)
def test_a_number_in_params_is_sent_as_written_plainly(sandbox: Any, page: Any) -> None:
    """``2.0`` goes as ``page=2``, as a custom field's value would be written, not as Python's repr."""
    second = quick_hook().request("GET", "contacts", params={"page": 2})

    assert quick_hook().request("GET", "contacts", params={"page": page}) == second


@pytest.mark.parametrize("body", [{"x": float("nan")}, {"x": {1}}, {1j: 2}], ids=_id)
def test_a_request_body_json_cannot_write_is_refused_not_retried(sandbox: Any, body: Any) -> None:
    with pytest.raises(ValueError, match=r"^json must be what JSON writes"):
        quick_hook().request("POST", "contacts", json=body)
    assert sandbox.stats.total_requests == 0
    assert quick_hook().request("GET", "contacts", params={"page": 2})["contacts"]
