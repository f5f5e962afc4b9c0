"""Rows and arguments of the upsert: a bad row fails alone, clearly; bad arguments before any request."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_callbell.messaging.batch import message_of
from airflow_provider_callbell.operators.contacts import CallbellUpsertContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.upserts.rows import Row, RowError, changes_for
from tests.conftest import SandboxFactory, connect, quick_hook

#: Tags a row may not hold: what a template or a spreadsheet gives by mistake, never a tag.
BAD_ROW_TAGS: list[Any] = [
    ["zq,vip"],
    ["zq\tvip"],
    ["'zq'"],
    ["zq'"],
    ['"zq"'],
    ["zq", " "],
    ["zq\nvip"],
    "['zq'",
    "['zq', '']",
    "zq, ,vip",
    "zq,None",
    "['zq', 'null']",
    "",
    [1],
    {"zq": True},
]


def _id(value: Any) -> str:
    return repr(value)[:60]


@pytest.mark.parametrize("tags", BAD_ROW_TAGS, ids=_id)
def test_bad_tags_fail_the_row_without_quoting_them(tags: Any) -> None:
    with pytest.raises(RowError, match=r"^has invalid tags: tags must") as caught:
        Row.of(1, {"uuid": "c0ffee", "tags": tags}, "uuid")
    assert "zq" not in str(caught.value)


@pytest.mark.parametrize("source", ["WhatsApp", "web-chat", "tele gram"])
def test_a_source_in_a_row_is_a_channel_type_as_callbell_spells_it(source: str) -> None:
    row = {"phoneNumber": "+39 333 000 1111", "source": source, "name": "Zq"}

    with pytest.raises(RowError, match=r"^has an invalid source: source must be a channel type in lowercase"):
        Row.of(1, row, "phone")
    assert Row.of(1, {**row, "source": "web_chat"}, "phone")


@pytest.mark.parametrize(
    ("tags", "read"),
    [
        ("zq, vip", ("zq", "vip")),
        ("VIP, vip, zq", ("VIP", "zq")),
        ("['zq', 'vip']", ("zq", "vip")),
        ('["zq"]', ("zq",)),
        ("[]", ()),
    ],
)
def test_tags_as_text_are_read(tags: str, read: tuple[str, ...]) -> None:
    assert Row.of(1, {"uuid": "c0ffee", "tags": tags}, "uuid").values["tags"] == read


@pytest.mark.parametrize(
    ("given", "held"),
    [
        (91.0, "91"),
        (91, "91"),
        (1e16, "10000000000000000"),
        (0.5, "0.5"),
        (1e-7, "0.0000001"),
        (Decimal("2.50"), "2.5"),
    ],
    ids=_id,
)
def test_numbers_in_custom_fields_are_written_as_callbell_holds_them(given: Any, held: str) -> None:
    row = Row.of(1, {"uuid": "c0ffee", "customFields": {"score": given}}, "uuid")
    assert changes_for(row, {"uuid": "c0ffee", "customFields": {"score": held}}, "set") == {}
    assert changes_for(row, {"uuid": "c0ffee", "customFields": {}}, "set") == {
        "custom_fields": {"score": held}
    }


@pytest.fixture
def account(sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch) -> CallbellSandbox:
    sandbox = sandbox_factory(contacts=12, seed=5)
    connect(monkeypatch, sandbox, max_requests_per_second=5000)
    return sandbox


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_row_with_bad_tags_fails_alone_and_is_reported(
    account: CallbellSandbox, tmp_path: Path, dry_run: bool
) -> None:
    good, bad = account.contacts()[:2]
    rows = [{"uuid": bad["uuid"], "tags": ["zq,vip"]}, {"uuid": good["uuid"], "tags": ["zq"]}]
    path = tmp_path / "report.jsonl"

    with pytest.raises(AirflowException, match="1 rows failed, more than max_failures=0"):
        CallbellUpsertContactsOperator(
            task_id="upsert", contacts=rows, report_path=str(path), dry_run=dry_run
        ).execute({})

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["failed", "updated"]
    assert "tags must be" in lines[0]["reason"]
    assert "zq,vip" not in lines[0]["reason"]
    assert account.get_contact(bad["uuid"])["tags"] == bad["tags"]
    assert account.get_contact(good["uuid"])["tags"] == (good["tags"] if dry_run else ["zq"])


@pytest.mark.parametrize("as_dir", ["existing", "trailing slash"])
def test_a_report_path_naming_a_directory_fails_before_any_request(
    account: CallbellSandbox, tmp_path: Path, as_dir: str
) -> None:
    (tmp_path / "reports.jsonl").mkdir()
    path = str(tmp_path / "reports.jsonl") + ("/" if as_dir == "trailing slash" else "")
    rows = [{"uuid": account.contacts()[0]["uuid"], "tags": ["zq"]}]

    with pytest.raises(ValueError, match=r"report_path (.* names a directory|must name a file)"):
        CallbellUpsertContactsOperator(task_id="upsert", contacts=rows, report_path=path).execute({})
    assert account.stats.total_requests == 0


def test_channel_uuid_needs_match_on_phone() -> None:
    for channel_uuid in ("ch-1", "{{ params.channel }}"):
        with pytest.raises(ValueError, match="channel_uuid needs match_on='phone'"):
            CallbellUpsertContactsOperator(task_id="upsert", contacts=[], channel_uuid=channel_uuid)
    with pytest.raises(ValueError, match="channel_uuid must be a Callbell identifier"):
        CallbellUpsertContactsOperator(task_id="upsert", contacts=[], match_on="phone", channel_uuid="a/b")


def test_update_contact_takes_tags_as_a_set(account: CallbellSandbox) -> None:
    uuid = account.contacts()[0]["uuid"]
    quick_hook().update_contact(uuid, tags={"zq", "vip"})
    assert sorted(account.get_contact(uuid)["tags"]) == ["vip", "zq"]


@pytest.mark.parametrize("report", ["{dir}/rows.jsonl", "file://{dir}/rows.jsonl", "{dir}/./rows.jsonl"])
def test_a_report_path_naming_the_input_file_is_refused_at_parse_time(tmp_path: Path, report: str) -> None:
    rows = tmp_path / "rows.jsonl"
    with pytest.raises(ValueError, match=r"report_path .* names the input_path file"):
        CallbellUpsertContactsOperator(
            task_id="upsert", input_path=str(rows), report_path=report.format(dir=tmp_path)
        )


@pytest.mark.parametrize("link", ["directory", "file", "hard"])
def test_a_report_path_reaching_the_input_file_through_a_link_is_refused(tmp_path: Path, link: str) -> None:
    rows = tmp_path / "data" / "rows.jsonl"
    rows.parent.mkdir()
    rows.write_text("{}\n")
    linked = tmp_path / "linked"
    if link == "directory":
        linked.symlink_to(rows.parent)
        report = linked / "rows.jsonl"
    elif link == "file":
        report = tmp_path / "report.jsonl"
        report.symlink_to(rows)
    else:
        report = tmp_path / "report.jsonl"
        report.hardlink_to(rows)
    with pytest.raises(ValueError, match=r"report_path .* names the input_path file"):
        CallbellUpsertContactsOperator(task_id="upsert", input_path=str(rows), report_path=str(report))
    assert rows.read_text() == "{}\n"


@pytest.mark.parametrize(
    "value", [Decimal("sNaN"), Decimal("Infinity"), float("nan"), float("-inf")], ids=_id
)
def test_numbers_no_field_can_hold_fail_their_row(account: CallbellSandbox, value: Any) -> None:
    bad, good = account.contacts()[:2]
    rows = [{"uuid": bad["uuid"], "customFields": {"x": value}}, {"uuid": good["uuid"], "note": "kept"}]

    result = CallbellUpsertContactsOperator(task_id="upsert", contacts=rows, max_failures=1).execute({})

    assert (result["failed"], result["updated"]) == (1, 1)
    assert account.get_contact(good["uuid"])["note"] == "kept"


@pytest.mark.parametrize("value", [10**5000, Decimal("1E+20000000")], ids=["digits", "exponent"])
def test_a_number_too_long_to_write_fails_its_row(value: Any) -> None:
    with pytest.raises(RowError, match=r"customFields\['x'\] holds a number with no exact plain form"):
        Row.of(1, {"uuid": "c0ffee", "customFields": {"x": value}}, "uuid")


def test_a_whole_number_of_any_size_is_written_as_its_digits() -> None:
    row = Row.of(1, {"uuid": "c0ffee", "customFields": {"x": 10**400}}, "uuid")
    assert changes_for(row, {"uuid": "c0ffee"}, "set") == {"custom_fields": {"x": "1" + "0" * 400}}


@pytest.mark.parametrize("tags", ["None", "null", "set()", " None "])
def test_text_a_template_renders_for_nothing_is_never_a_tag(account: CallbellSandbox, tags: str) -> None:
    contact = account.contacts()[0]
    if tags == "set()":  # an empty set: the tags cleared, as [] clears them
        assert Row.of(1, {"uuid": "c0ffee", "tags": tags}, "uuid").values["tags"] == ()
        return
    with pytest.raises(RowError, match=r"^has invalid tags: tags must name at least one"):
        Row.of(1, {"uuid": "c0ffee", "tags": tags}, "uuid")
    with pytest.raises(ValueError, match="the text a template renders for nothing"):
        quick_hook().update_contact(contact["uuid"], tags=tags)
    assert account.get_contact(contact["uuid"])["tags"] == contact["tags"]


@pytest.mark.parametrize("contacts", [12, 100], ids=["one walk", "a lookup a row"])
def test_a_uuid_naming_another_endpoint_fails_its_row_alone(
    sandbox_factory: SandboxFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, contacts: int
) -> None:
    account = sandbox_factory(contacts=contacts, seed=5)
    connect(monkeypatch, account, max_requests_per_second=5000)
    first, last = account.contacts()[0], account.contacts()[-1]
    rows = [
        {"uuid": first["uuid"], "note": "one"},
        {"uuid": "phone", "note": "x"},
        {"uuid": "None", "note": "x"},
        {"uuid": "+39 333 000 1111", "note": "x"},
        {"uuid": last["uuid"], "note": "two"},
    ]
    report = tmp_path / "report.jsonl"

    result = CallbellUpsertContactsOperator(
        task_id="upsert", contacts=rows, max_failures=3, report_path=str(report)
    ).execute({})

    assert (result["updated"], result["failed"]) == (2, 3)
    assert (account.get_contact(first["uuid"])["note"], account.get_contact(last["uuid"])["note"]) == (
        "one",
        "two",
    )
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["uuid"] for line in lines] == [first["uuid"], None, None, None, last["uuid"]]
    assert "333 000" not in report.read_text()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "Ada\x1b[2J"}, "has an invalid name: name must hold no control characters, line breaks"),
        ({"name": "Ada\nLovelace"}, "has an invalid name"),
        ({"assignedUser": "ada@example.com\x00"}, "has an invalid assignedUser"),
        ({"note": "called\x07"}, "has an invalid note: note must hold no control characters other than"),
        ({"customFields": {"score\x00": "9"}}, "field names must hold no control characters"),
        ({"customFields": {"score": "9\x1b"}}, r"customFields\['score'\] must hold no control characters"),
        ({"name": "Ada \u202enosaerd"}, r"has an invalid name: .*U\+202E \(right-to-left override\)"),
        ({"name": "Ada\u2029Lovelace"}, r"has an invalid name: .*U\+2029 \(paragraph separator\)"),
        ({"customFields": {"\u200b": "9"}}, "customFields must map field names"),
        ({"customFields": {" score ": "9"}}, "customFields must map field names without spaces around them"),
        ({"customFields": {"score\u00a0": "9"}}, "without spaces around them"),
        (
            {"name": "\u200b\ufeff"},
            "has an invalid name: it must be non-empty text that shows something",
        ),
    ],
    ids=_id,
)
def test_control_characters_fail_the_row(values: dict[str, Any], message: str) -> None:
    with pytest.raises(RowError, match=message) as caught:
        Row.of(1, {"uuid": "c0ffee", **values}, "uuid")
    assert "Ada" not in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Ada\x1b[2J"},
        {"note": "x\x00"},
        {"custom_fields": {"a\x07": "1"}},
        {"custom_fields": {"a": "\x00"}},
    ],
    ids=_id,
)
def test_the_hook_refuses_control_characters_before_any_request(
    account: CallbellSandbox, changes: dict[str, Any]
) -> None:
    uuid = account.contacts()[0]["uuid"]
    account.reset_stats()
    with pytest.raises(ValueError, match="must hold no control characters"):
        quick_hook().update_contact(uuid, **changes)
    assert account.stats.total_requests == 0


def test_a_note_may_hold_lines_and_tabs(account: CallbellSandbox) -> None:
    uuid = account.contacts()[0]["uuid"]
    quick_hook().update_contact(uuid, note="called\n\tcall back Monday", custom_fields={"memo": "a\nb"})
    assert account.get_contact(uuid)["note"] == "called\n\tcall back Monday"
    assert Row.of(1, {"uuid": "c0ffee", "note": "a\nb"}, "uuid").values["note"] == "a\nb"


def test_an_empty_batch_is_named_in_the_log(
    account: CallbellSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("uuid,note\r\n")

    result = CallbellUpsertContactsOperator(task_id="upsert", input_path=str(rows)).execute({})

    assert sum(result[outcome] for outcome in ("created", "updated", "unchanged", "failed")) == 0
    output = capsys.readouterr()
    assert "The batch holds no rows: nothing was upserted" in caplog.text + output.out + output.err


@pytest.mark.parametrize("tags_mode", ["add", "remove"])
def test_tags_an_agent_wrote_oddly_are_kept_not_checked(account: CallbellSandbox, tags_mode: str) -> None:
    """Callbell holds the contact's tags: ``'80s`` is an agent's, not the row's to refuse."""
    contact, other = account.contacts()[:2]
    account.update_contact(contact["uuid"], tags=["'80s", "vip"])
    rows = [
        {"uuid": contact["uuid"], "tags": ["hot" if tags_mode == "add" else "vip"]},
        {"uuid": other["uuid"], "note": "n"},
    ]

    result = CallbellUpsertContactsOperator(task_id="upsert", contacts=rows, tags_mode=tags_mode).execute({})

    assert (result["updated"], result["failed"]) == (2, 0)
    expected = ["'80s", "vip", "hot"] if tags_mode == "add" else ["'80s"]
    assert account.get_contact(contact["uuid"])["tags"] == expected


def test_rows_with_keys_of_other_types_fail_alone(account: CallbellSandbox) -> None:
    first, second = account.contacts()[:2]
    rows = [
        {"uuid": first["uuid"], "name": "X", 1: "y", "score": 3},
        {"uuid": second["uuid"], "note": "kept"},
    ]

    result = CallbellUpsertContactsOperator(task_id="upsert", contacts=rows, max_failures=1).execute({})

    assert (result["failed"], result["updated"]) == (1, 1)
    with pytest.raises(ValueError, match="has keys a message row does not have: 1, 'score'"):
        message_of({"to": "+39 333 000 1111", "text": "hi", 1: "x", "score": "y"}, {})


def test_an_exported_contact_without_a_phone_number_upserts_by_uuid(account: CallbellSandbox) -> None:
    contact = account.contacts()[0]
    account.update_contact(contact["uuid"], phoneNumber="")

    result = CallbellUpsertContactsOperator(
        task_id="upsert", contacts=[account.get_contact(contact["uuid"])]
    ).execute({})

    assert (result["unchanged"], result["failed"]) == (1, 0)


@pytest.mark.parametrize("blank", ["   ", "\u200b", "\n"])
def test_a_note_that_shows_nothing_clears_as_an_empty_one_does(blank: str) -> None:
    assert Row.of(1, {"uuid": "c0ffee", "note": blank}, "uuid").values["note"] == ""
    assert (
        Row.of(1, {"uuid": "c0ffee", "assignedUser": blank.strip() or " "}, "uuid").values["assignedUser"]
        == ""
    )


def test_a_row_matched_on_uuid_naming_another_number_fails_without_a_write(
    account: CallbellSandbox, tmp_path: Path
) -> None:
    """The number cannot be written: an edited phoneNumber in an exported sheet is no silent no-op."""
    first, second = account.contacts()[:2]
    rows = [
        {"uuid": first["uuid"], "phoneNumber": second["phoneNumber"], "name": "Zq"},
        {"uuid": second["uuid"], "phoneNumber": second["phoneNumber"].replace(" ", ""), "name": "Zq"},
    ]
    path = tmp_path / "report.jsonl"

    with pytest.raises(AirflowException, match="1 rows failed"):
        CallbellUpsertContactsOperator(task_id="upsert", contacts=rows, report_path=str(path)).execute({})

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["failed", "updated"]
    assert "has a phoneNumber its contact does not have" in lines[0]["reason"]
    assert account.get_contact(first["uuid"])["name"] == first["name"]
