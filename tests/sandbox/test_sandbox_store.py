"""ContactStore and the cursors without HTTP: ordering, updates, deletion, cursors, conflicts."""

from __future__ import annotations

import base64

import pytest

from airflow_provider_callbell.sandbox.cursors import KeysetCursor, SnapshotCursor, decode_cursor
from airflow_provider_callbell.sandbox.records import phone_key
from airflow_provider_callbell.sandbox.seed import national_number, phone_offset
from airflow_provider_callbell.sandbox.store import (
    ContactConflictError,
    ContactFilter,
    ContactStore,
    StaleCursorError,
)

EVERYONE = ContactFilter()


def uuids_of(store: ContactStore) -> list[str]:
    return [contact["uuid"] for contact in store.snapshot()]


@pytest.mark.parametrize(
    "cursor", [KeysetCursor(last_seq=41, horizon=90), SnapshotCursor(version=7, position=40)]
)
def test_cursor_round_trip(cursor: KeysetCursor | SnapshotCursor) -> None:
    assert decode_cursor(cursor.encode()) == cursor
    assert "=" not in cursor.encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a cursor!",
        _b64(b"\xff\xfe"),
        _b64(b"[1, 2]"),
        _b64(b'{"s": 1}'),
        _b64(b'{"s": 1, "h": 2, "x": 3}'),
        _b64(b'{"s": -1, "h": 2}'),
        _b64(b'{"s": true, "h": 2}'),
        _b64(b'{"s": "1", "h": 2}'),
        _b64(b'{"v": 1}'),
        _b64(b'{"v": 1, "h": 2}'),
        _b64(b'{"v": 1, "p": -2}'),
        _b64(b'{"v": 1, "p": 2, "s": 3}'),
    ],
)
def test_malformed_cursors_are_rejected(token: str) -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        decode_cursor(token)


def test_add_puts_the_contact_first() -> None:
    store = ContactStore.seeded(10, seed=1)

    record = store.add({"name": "New", "source": "telegram"})

    assert uuids_of(store)[0] == record.uuid
    assert record.seq == 11
    assert store.page(ContactFilter(), 1, 3).records[0] == record


def test_update_keeps_the_position_unless_touched() -> None:
    store = ContactStore.seeded(10, seed=1)
    order = uuids_of(store)
    middle = order[5]

    store.update(middle, lambda contact: contact.update(tags=["vip"]))
    assert uuids_of(store) == order

    store.update(middle, lambda contact: None, touch=True)
    assert uuids_of(store) == [middle, *order[:5], *order[6:]]


def test_update_keeps_indexes_in_step() -> None:
    store = ContactStore.seeded(20, seed=1)
    uuid = uuids_of(store)[0]

    store.update(uuid, lambda contact: contact.update(phoneNumber="+1 999 000 111", tags=["VIP"]))

    record = store.find_by_phone("+19990001 11")
    assert record is not None
    assert record.uuid == uuid
    assert store.page(ContactFilter(tags=frozenset({"vip"})), 1, 50).records[0].uuid == uuid


def test_conflicts_and_unknown_contacts() -> None:
    store = ContactStore.seeded(5, seed=1)
    first, second = store.snapshot()[:2]

    with pytest.raises(ContactConflictError):
        store.add({"name": "Twin", "phoneNumber": first["phoneNumber"]})
    with pytest.raises(ContactConflictError):
        store.add({"name": "Clone", "uuid": first["uuid"]})
    with pytest.raises(ContactConflictError):
        store.update(second["uuid"], lambda contact: contact.update(phoneNumber=first["phoneNumber"]))
    with pytest.raises(ValueError, match="uuid of a contact cannot change"):
        store.update(second["uuid"], lambda contact: contact.update(uuid="0" * 32))
    with pytest.raises(KeyError):
        store.update("0" * 32, lambda contact: None)
    assert len(store) == 5


def test_filtered_lists_follow_changes() -> None:
    store = ContactStore.seeded(30, seed=2)
    telegram = ContactFilter(source="telegram")
    before = store.page(telegram, 1, 100).records

    added = store.add({"name": "Telegrammer", "source": "Telegram"})

    assert store.page(telegram, 1, 100).records == (added, *before)


def test_generated_phone_numbers_skip_taken_ones() -> None:
    store = ContactStore.seeded(3, seed=0)
    # The squatter gets seq 4, so the next generated number would be index 4's.
    squatted = "+39 " + national_number(4, phone_offset(0))
    store.add({"name": "Squatter", "phoneNumber": squatted})

    generated = store.add({"name": "Generated"})

    assert generated.phone_key != phone_key(squatted)
    assert len(store) == 5


def test_contacts_without_a_phone_number_do_not_clash() -> None:
    store = ContactStore.seeded(3, seed=0)

    first = store.add({"name": "No phone", "phoneNumber": "unknown"})
    second = store.add({"name": "Neither", "phoneNumber": "n/a"})

    assert first.phone_key == second.phone_key == ""
    assert store.find_by_phone("") is None


def test_touch_moves_the_record_unchanged() -> None:
    store = ContactStore.seeded(10, seed=1)
    order = uuids_of(store)
    before = store.get(order[6])

    touched = store.touch(order[6])

    assert uuids_of(store) == [order[6], *order[:6], *order[7:]]
    assert before is not None
    assert (touched.body, touched.seq) == (before.body, 11)
    with pytest.raises(KeyError):
        store.touch("0" * 32)


def test_delete_drops_the_contact_and_its_indexes() -> None:
    store = ContactStore.seeded(10, seed=1)
    victim = store.snapshot()[3]
    listed = store.listing(EVERYONE)

    store.delete(victim["uuid"])

    assert victim["uuid"] not in uuids_of(store)
    assert store.get(victim["uuid"]) is None
    assert store.find_by_phone(victim["phoneNumber"]) is None
    assert len(store) == 9
    assert len(listed) == 10, "a listing never changes once handed out"
    with pytest.raises(KeyError):
        store.delete(victim["uuid"])
    assert store.add({"name": "Reuse", "phoneNumber": victim["phoneNumber"]}).uuid != victim["uuid"]


def test_a_static_store_shares_one_listing() -> None:
    store = ContactStore.seeded(50, seed=1)

    first = store.page(EVERYONE, 1, 10, "snapshot").next
    third = store.page(EVERYONE, 3, 10, "snapshot").next

    assert store.listing(EVERYONE) is store.listing(EVERYONE)
    assert isinstance(third, SnapshotCursor)
    assert (first, third.position) == (SnapshotCursor(third.version, 10), 30)


def test_snapshot_cursor_skips_deleted_contacts_to_the_end() -> None:
    store = ContactStore.seeded(12, seed=1)
    order = uuids_of(store)
    first = store.page(EVERYONE, 1, 5, "snapshot")
    assert first.next is not None

    for uuid in order[5:7] + order[8:]:
        store.delete(uuid)
    second = store.page_after(EVERYONE, first.next, 5)

    assert [record.uuid for record in second.records] == [order[7]]
    assert second.next is None


def test_snapshot_cursors_are_kept_for_the_64_most_recently_read_listings() -> None:
    store = ContactStore.seeded(30, seed=1)
    oldest = store.page(EVERYONE, 1, 5, "snapshot").next
    store.touch(uuids_of(store)[-1])
    walk = store.page(EVERYONE, 1, 5, "snapshot").next
    assert oldest is not None
    assert walk is not None

    for index in range(63):  # 65 listings in all
        store.touch(uuids_of(store)[-1])
        store.page(EVERYONE, 1, 5, "snapshot")
        if index == 40:
            walk = store.page_after(EVERYONE, walk, 5).next
            assert walk is not None

    assert len(store.page_after(EVERYONE, walk, 5).records) == 5
    with pytest.raises(StaleCursorError):
        store.page_after(EVERYONE, oldest, 5)


def test_snapshot_cursor_belongs_to_its_filter() -> None:
    store = ContactStore.seeded(40, seed=1)
    cursor = store.page(ContactFilter(source="whatsapp"), 1, 5, "snapshot").next
    assert cursor is not None

    with pytest.raises(StaleCursorError):
        store.page_after(ContactFilter(source="telegram"), cursor, 5)
