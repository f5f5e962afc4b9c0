"""CallbellHook.iter_contacts over real HTTP: filters, every pagination shape, faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_callbell.exceptions import CallbellPaginationLimitError, CallbellServerError
from tests.conftest import SandboxFactory, quick_hook


def uuids(contacts: list[dict[str, Any]]) -> list[str]:
    return [contact["uuid"] for contact in contacts]


def matching(contacts: list[dict[str, Any]], **wanted: Any) -> list[str]:
    """The oracle: which sandbox contacts a filter should return, in API order."""
    result = []
    for contact in contacts:
        tags = {tag.lower() for tag in contact.get("tags", [])}
        if "source" in wanted and str(contact.get("source")).lower() != wanted["source"].lower():
            continue
        if "tags" in wanted and not tags & {tag.lower() for tag in wanted["tags"]}:
            continue
        if "team_uuid" in wanted and (contact.get("team") or {}).get("uuid") != wanted["team_uuid"]:
            continue
        result.append(contact["uuid"])
    return result


@pytest.mark.parametrize(
    ("pagination", "page_size", "page_cap"),
    [
        ("pages", 20, None),
        ("pages", 7, 1000),
        ("meta", 20, None),
        ("meta", 50, 500),
        ("cursor", 20, 500),
        ("cursor", 20, 3),
        ("cursor", 9, 1),
        ("cursor", 1, 5),
    ],
)
@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_contact_once_in_api_order(
    sandbox_factory: SandboxFactory, pagination: str, page_size: int, page_cap: int | None, concurrency: int
) -> None:
    sandbox = sandbox_factory(
        contacts=130, seed=3, pagination=pagination, page_size=page_size, page_cap=page_cap
    )

    contacts = list(quick_hook().iter_contacts(concurrency=concurrency))

    assert uuids(contacts) == uuids(sandbox.contacts())
    assert contacts == sandbox.contacts()


def test_page_numbers_only_stop_at_the_first_empty_page(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=100, pagination="pages", page_size=20, page_cap=None)

    assert len(list(quick_hook().iter_contacts())) == 100
    # five pages, the empty sixth, and the last look at the top of the list
    assert sandbox.stats.total_requests == 7


def test_meta_pages_save_the_empty_page(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=100, pagination="meta", page_size=20, page_cap=None)

    assert len(list(quick_hook().iter_contacts())) == 100
    assert sandbox.stats.total_requests == 6


def test_one_lane_reads_by_cursor_and_never_hits_the_page_cap(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=100, pagination="cursor", page_size=10, page_cap=4)

    assert uuids(list(quick_hook().iter_contacts())) == uuids(sandbox.contacts())
    assert sandbox.stats.by_status == {200: 11}


def test_page_cap_without_cursor_says_how_to_narrow(sandbox_factory: SandboxFactory) -> None:
    sandbox_factory(contacts=100, pagination="meta", page_size=10, page_cap=4)

    with pytest.raises(CallbellPaginationLimitError, match=r"refused page 5.*no cursor.*filters"):
        list(quick_hook().iter_contacts())


def test_empty_account(sandbox_factory: SandboxFactory) -> None:
    sandbox_factory(contacts=0)

    assert list(quick_hook().iter_contacts()) == []


@pytest.mark.parametrize("pagination", ["pages", "meta"])
def test_contacts_added_during_a_page_walk_cause_no_repeat(
    sandbox_factory: SandboxFactory, pagination: str
) -> None:
    sandbox = sandbox_factory(contacts=60, pagination=pagination, page_size=10, page_cap=None)
    before = uuids(sandbox.contacts())

    walked = []
    for number, contact in enumerate(quick_hook().iter_contacts()):
        walked.append(contact["uuid"])
        if number in (15, 35):
            sandbox.add_contact(name=f"Walk-in {number}", phoneNumber=f"+39 000 {number}", source="whatsapp")

    assert len(walked) == len(set(walked))
    assert set(before) <= set(walked)


def test_a_contact_created_during_a_cursor_walk_comes_last(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=60, pagination="cursor", page_size=10, page_cap=1)
    before = uuids(sandbox.contacts())

    walked = []
    for number, contact in enumerate(quick_hook().iter_contacts()):
        walked.append(contact["uuid"])
        if number == 25:
            late = sandbox.add_contact(name="Late lead", phoneNumber="+39 111 222", source="whatsapp")

    assert walked == [*before, late["uuid"]]


@pytest.mark.parametrize(
    ("argument", "value"),
    [("source", "whatsapp"), ("source", "instagram"), ("tags", ["lead"]), ("tags", "vip, Customer")],
)
def test_server_side_filters(sandbox: Any, argument: str, value: Any) -> None:
    wanted = {argument: value.split(",") if argument == "tags" and isinstance(value, str) else value}
    if argument == "tags":
        wanted["tags"] = [tag.strip() for tag in wanted["tags"]]

    contacts = list(quick_hook().iter_contacts(**{argument: value}))

    assert contacts
    assert uuids(contacts) == matching(sandbox.contacts(), **wanted)


def test_team_filter(sandbox: Any) -> None:
    team = sandbox.teams[1]["uuid"]

    contacts = list(quick_hook().iter_contacts(team_uuid=team))

    assert contacts
    assert uuids(contacts) == matching(sandbox.contacts(), team_uuid=team)


def test_filters_combine(sandbox: Any) -> None:
    contacts = list(quick_hook().iter_contacts(source="whatsapp", tags="lead"))

    assert uuids(contacts) == matching(sandbox.contacts(), source="whatsapp", tags=["lead"])


def test_field_types_on_request_only(sandbox: Any) -> None:
    plain = list(quick_hook().iter_contacts())
    typed = list(quick_hook().iter_contacts(include_field_types=True))

    assert not any("customFieldsMetadata" in contact for contact in plain)
    assert all("customFieldsMetadata" in contact for contact in typed)
    assert uuids(plain) == uuids(typed)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": ""}, "source must be a non-empty string"),
        ({"source": 3}, "source must be a non-empty string"),
        ({"tags": 5}, "tags must be a list or a set of strings or a comma-separated string"),
        ({"tags": ["lead", 2]}, "tags must be non-blank printable strings without commas"),
        ({"tags": ["a,b"]}, "tags must be non-blank printable strings without commas"),
        ({"team_uuid": "  "}, "team_uuid must be a non-empty string"),
        ({"include_field_types": "yes"}, "include_field_types must be True or False"),
    ],
)
def test_bad_arguments_fail_before_any_request(sandbox: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quick_hook().iter_contacts(**kwargs)
    assert sandbox.stats.total_requests == 0


FAULTS = [
    {"error_rate": 0.3},
    {"throttle_rate": 0.3, "retry_after_format": "seconds"},
    {"throttle_rate": 0.3, "retry_after_format": "http-date"},
    {"throttle_rate": 0.3, "retry_after_format": "none"},
    {"drop_rate": 0.3},
    {"truncate_rate": 0.3},
    {"error_rate": 0.1, "throttle_rate": 0.1, "drop_rate": 0.1, "truncate_rate": 0.1},
]


@pytest.mark.parametrize("faults", FAULTS, ids=lambda faults: "+".join(sorted(faults)))
@pytest.mark.parametrize(
    ("pagination", "page_cap", "concurrency"), [("pages", None, 1), ("cursor", 3, 1), ("cursor", 6, 4)]
)
def test_exactly_once_under_faults(
    sandbox_factory: SandboxFactory,
    faults: dict[str, Any],
    pagination: str,
    page_cap: int | None,
    concurrency: int,
) -> None:
    sandbox = sandbox_factory(
        contacts=150, seed=11, page_size=10, pagination=pagination, page_cap=page_cap, **faults
    )

    contacts = list(quick_hook().iter_contacts(concurrency=concurrency))

    assert contacts == sandbox.contacts()
    assert sum(sandbox.stats.faults.values()) > 0


def test_retries_give_up_with_the_last_error(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=10, error_rate=1.0, max_faults_per_request=100)

    with pytest.raises(CallbellServerError, match=r"HTTP 50\d to GET /contacts") as caught:
        list(quick_hook(max_retries=2).iter_contacts())

    assert caught.value.status in (500, 502, 503)
    assert sandbox.stats.total_requests == 3


def test_lanes_past_the_page_cap_cost_one_request_each(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=200, pagination="cursor", page_size=10, page_cap=5)

    assert uuids(list(quick_hook().iter_contacts(concurrency=4))) == uuids(sandbox.contacts())
    # lanes planned at pages 6, 11 and 16 are refused; lane 1 reads all 20 pages, then one last look
    assert sandbox.stats.by_status == {200: 21, 400: 3}


def test_stopping_a_concurrent_walk_early(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=500, pagination="meta", page_size=10, latency=0.01)
    walk = quick_hook().iter_contacts(concurrency=8)

    first = [next(walk) for _ in range(25)]
    walk.close()

    assert uuids(first) == uuids(sandbox.contacts())[:25]
    assert sandbox.stats.total_requests <= 3 + 2 * (8 - 1)


@pytest.mark.parametrize("concurrency", [0, -1, 2.5, True, "4.5", 65])
def test_bad_concurrency(sandbox: Any, concurrency: Any) -> None:
    with pytest.raises(ValueError, match="concurrency must be a whole number from 1 to"):
        quick_hook().iter_contacts(concurrency=concurrency)


def test_rate_limit_holds_as_the_sandbox_counts_it(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(contacts=200, page_size=5, pagination="pages", page_cap=None)
    hook = quick_hook(max_requests_per_second=50)

    def walk() -> None:
        for _ in hook.iter_contacts(concurrency=3):
            pass

    threads = [threading.Thread(target=walk) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sandbox.stats.total_requests >= 3 * 42
    assert sandbox.stats.max_requests_per_second <= 51


def test_progress_is_logged_periodically(sandbox: Any, logs: Callable[[], str]) -> None:
    hook = quick_hook()
    hook.progress_interval = 0.0

    list(hook.iter_contacts())

    progress = [line for line in logs().splitlines() if "contacts in" in line]
    assert "Read 20 contacts in 1 pages" in progress[0]
    assert "Read 130 contacts in 8 pages" in progress[-1]
    assert len(progress) == 9


def test_no_progress_line_per_request(sandbox: Any, logs: Callable[[], str]) -> None:
    list(quick_hook().iter_contacts())

    progress = [line for line in logs().splitlines() if "contacts in" in line]
    assert len(progress) == 1
    assert "Read 130 contacts in 8 pages" in progress[0]


def test_connection_pool_keeps_every_concurrent_connection_alive(sandbox: Any) -> None:
    hook = quick_hook()
    hook.get_contact(sandbox.contacts()[0]["uuid"])

    assert len(list(hook.iter_contacts(concurrency=24))) == 130
    adapter = hook.get_conn().get_adapter(sandbox.url)
    assert adapter._pool_maxsize == 25  # type: ignore[attr-defined]
    assert len(adapter.poolmanager.pools) == 1  # type: ignore[attr-defined]
