"""Lists: blank entries are errors everywhere; rendered templates give the list they show."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor
from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger
from tests.conftest import quick_hook

BLANK: list[Any] = ["", " ", " , ", ",", "lead,,vip", "lead,", [], [""], ["lead", " "], "[]", "['']", '[""]']
NOT_LISTS: list[Any] = [
    3,
    True,
    {"lead": 1},
    b"lead",
    [1],
    ["lead", None],
    [["lead"]],
    ["lead,vip"],
    (tag for tag in ["lead"]),
    iter(["lead"]),
    "['lead'",
    "{'lead': 1}",
    "[1, 2]",
    "(lead)",
    ["lead\nvip"],
    "le\x00ad",
    ["\u200b"],
    ["a\u200bb"],
    ["lead\u200d"],  # a joiner with nothing to join: invisible, never typed
    ["\u200dlead"],
    ["lead\U000e0067\U000e0062"],  # tag characters that end no emoji flag
    ["\u3164"],  # a Hangul filler, and marks with no letter: they show nothing
    "lead,\u3164",
    ["\ufe0f"],
    ["\u0301"],
    ["lead\ud800"],
    "'lead', 'vip'",
    '"lead"',
    "<generator object sync_do_map at 0x7f3a9c2e1d40>",
    "('<generator object select_or_reject at 0x7f3a9c2e1d40>',)",
    "range(0, 3)",
    "map(str, ['lead'])",
    "zip(['lead'], ['vip'])",
    "dict_items([('lead', 1)])",
    "OrderedDict([('lead', 1)])",
    "frozenset({1, 2})",
    "dict_keys(['lead', 'vip']",
    "['lead' 'vip']",  # a comma missing: Python would join the two
    '["lead" "vip"]',
    "{'lead' 'vip'}",
    "set([['lead']])",
]
RENDERED = [
    "['lead', 'vip']",
    '["lead", "vip"]',
    " [ 'lead' , 'vip' ] ",
    "lead, vip",
    ["lead", "vip"],
    ("lead", "vip"),
    "('lead', 'vip')",
    "dict_keys(['lead', 'vip'])",
    "deque(['lead', 'vip'])",
]


def _id(value: Any) -> str:
    return type(value).__name__ if hasattr(value, "__next__") else repr(value)


def _callers(argument: str) -> list[Any]:
    """Every place that takes ``argument``, each called with a bad value."""
    callers: list[Callable[[Any], object]] = [
        lambda value: CallbellListContactsOperator(task_id="export", **{argument: value}),
        lambda value: CallbellNewLeadsSensor(task_id="wait", **{argument: value}),
        lambda value: CallbellNewLeadsTrigger(
            since="2026-01-01T00:00:00+00:00", baseline=[], **{argument: value}
        ),
    ]
    if argument == "tags":
        callers.append(lambda value: quick_hook().iter_contacts(tags=value))
    if AIRFLOW_V_3_0_PLUS:
        from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

        callers.append(lambda value: CallbellNewLeadsEventTrigger(**{argument: value}))
    return callers


@pytest.mark.parametrize("argument", ["tags", "fields"])
@pytest.mark.parametrize("value", BLANK, ids=_id)
def test_blank_entries_are_refused_everywhere(sandbox: Any, argument: str, value: Any) -> None:
    for call in _callers(argument):
        with pytest.raises(
            ValueError, match=f"{argument} must (name at least one|be non-blank printable strings)"
        ):
            call(value)
    assert sandbox.stats.total_requests == 0


@pytest.mark.parametrize("argument", ["tags", "fields"])
@pytest.mark.parametrize("value", NOT_LISTS, ids=_id)
def test_non_lists_are_refused_everywhere(argument: str, value: Any) -> None:
    for call in _callers(argument):
        with pytest.raises(
            ValueError,
            match=f"{argument} (must be a list (or a set )?of|must be non-blank printable|looks like a list)",
        ):
            call(value)


@pytest.mark.parametrize("value", RENDERED, ids=_id)
def test_lists_given_as_text_read_as_lists(value: Any) -> None:
    operator = CallbellListContactsOperator(task_id="export", tags=value, fields=value)
    filters, selection, _ = operator._check()

    assert (filters.tags, selection.fields) == (("lead", "vip"), ("lead", "vip"))
    assert CallbellNewLeadsTrigger(since="2026-01-01", baseline=[], tags=value).serialize()[1]["tags"] == [
        "lead",
        "vip",
    ]


def test_the_text_of_a_set_is_the_set_where_sets_are_allowed() -> None:
    """Tags may be a set (``{{ params.tags | set }}`` renders ``{'lead', 'vip'}``); fields, in
    order, may not."""
    for text in ("{'lead', 'vip'}", "frozenset({'lead', 'vip'})", "set(['lead', 'vip'])"):
        filters, _, _ = CallbellListContactsOperator(task_id="export", tags=text)._check()
        assert sorted(filters.tags) == ["lead", "vip"]
        with pytest.raises(ValueError, match="fields must be a list of strings"):
            CallbellListContactsOperator(task_id="export", fields=text)


@pytest.mark.parametrize("native", [False, True], ids=["rendered-as-text", "native-objects"])
def test_templated_lists_render_to_the_list(native: bool) -> None:
    """A ``{{ params.tags }}`` list renders to its text, or to the list itself with native rendering."""
    with DAG(
        "templated_lists",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        render_template_as_native_obj=native,
        params={"tags": ["lead", "VIP"], "fields": ["uuid", "name"], "limit": 7},
    ) as dag:
        operator = CallbellListContactsOperator(
            task_id="export",
            tags="{{ params.tags }}",
            fields="{{ params.fields }}",
            max_contacts="{{ params.limit }}",
        )
    operator.render_template_fields(cast(Any, {"params": dag.params, "ds": "2026-01-01"}))
    filters, selection, _ = operator._check()

    assert isinstance(operator.tags, list) is native
    assert (filters.tags, selection.tags, selection.fields) == (
        ("lead", "VIP"),
        ("lead", "vip"),
        ("uuid", "name"),
    )
    assert selection.max_contacts == 7


def test_a_template_rendering_nothing_is_an_error_not_no_filter() -> None:
    operator = CallbellListContactsOperator(task_id="export", tags="{{ params.tags }}")
    operator.render_template_fields(cast(Any, {"params": {"tags": ""}}))

    with pytest.raises(ValueError, match="'export': tags must name at least one"):
        operator._check()


def test_fields_have_an_order_so_a_set_is_refused() -> None:
    with pytest.raises(ValueError, match="fields must be a list of strings"):
        CallbellListContactsOperator(task_id="export", fields={"uuid", "name"})  # type: ignore[arg-type]
    assert CallbellListContactsOperator(task_id="export", tags={"lead"})._check()[0].tags == ("lead",)


def test_the_event_trigger_serializes_a_comma_separated_string_as_tags() -> None:
    if not AIRFLOW_V_3_0_PLUS:
        pytest.skip("asset watchers need Airflow 3")
    from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

    _, kwargs = CallbellNewLeadsEventTrigger(tags="lead,vip", fields="uuid,tags").serialize()

    assert (kwargs["tags"], kwargs["fields"]) == (["lead", "vip"], ["uuid", "tags"])


#: Tags that merely open or close with a bracket, or hold one: names, not lists rendered as text.
BRACKETED_NAMES = ["Promo (2024)", "vip)", "lead (vip)", "(new) lead", "[beta", "a]", "x {y}"]


@pytest.mark.parametrize("tag", BRACKETED_NAMES)
def test_a_tag_merely_opening_or_closing_with_a_bracket_is_a_name(tag: str) -> None:
    operator = CallbellListContactsOperator(task_id="export", tags=tag)

    assert operator._check()[0].tags == (tag,)
    assert operator_tags(f"{tag}, vip") == (tag, "vip")
    assert CallbellNewLeadsTrigger(since="2026-01-01", baseline=[], tags=tag).serialize()[1]["tags"] == [tag]


def operator_tags(value: Any) -> Any:
    return CallbellListContactsOperator(task_id="export", tags=value)._check()[0].tags


def test_text_in_matching_brackets_must_still_be_a_list() -> None:
    for value in ["(lead)", "[lead, vip]", "{'lead': 1}", "(vip) lead (new)"]:
        with pytest.raises(
            ValueError, match=r"tags looks like a list rendered as text but is not one: .*\['a', 'b'\]"
        ):
            operator_tags(value)


def test_a_list_cut_short_is_refused_for_its_stray_quote() -> None:
    with pytest.raises(ValueError, match="tags must be non-blank printable strings without commas or quotes"):
        operator_tags("['lead', 'vip'")


@pytest.mark.parametrize(
    "to",
    ["(02) 1234 5678", "02 1234 (5678)", "(02) 1234 (5678)", "(0039) 333 000 1111", "(0039 333 000 1111)"],
)
def test_a_phone_number_in_brackets_is_never_read_as_a_list(to: str) -> None:
    from airflow_provider_callbell.notifications.callbell import CallbellNotifier

    assert CallbellNotifier(to=to, text="Done")._recipients() == [to]
    assert CallbellNotifier(to=f"{to}, +39 333 000 2222", text="Done")._recipients() == [
        to,
        "+39 333 000 2222",
    ]


def test_phone_numbers_rendered_as_a_list_still_read_as_the_list() -> None:
    from airflow_provider_callbell.notifications.callbell import CallbellNotifier

    for rendered_list in ["['(02) 1234 5678', '+39 333 000 2222']", "('(02) 1234 5678', '+39 333 000 2222')"]:
        assert CallbellNotifier(to=rendered_list, text="Done")._recipients() == [
            "(02) 1234 5678",
            "+39 333 000 2222",
        ]
    with pytest.raises(ValueError, match="to looks like a list rendered as text but is not one"):
        CallbellNotifier(to="[+39 333 000 2222]", text="Done")


#: Emoji composed with joiners, variation selectors and tag characters: names as agents type them.
EMOJI_NAMES = [
    "\U0001f469\u200d\U0001f4bb",
    "\u2764\ufe0f\u200d\U0001f525 vip",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
]


@pytest.mark.parametrize("tag", EMOJI_NAMES)
def test_a_tag_of_composed_emoji_is_a_name_and_finds_its_contacts(sandbox: Any, tag: str) -> None:
    tagged = sandbox.add_contact(name="Emoji", tags=[tag])

    assert operator_tags([tag, "vip"]) == (tag, "vip")
    assert [contact["uuid"] for contact in quick_hook().iter_contacts(tags=tag)] == [tagged["uuid"]]


@pytest.mark.parametrize(
    "filters",
    [
        {"tags": "['lead'"},
        {"tags": ("",)},
        {"source": "../auth"},
        {"team_uuid": " x y "},
        {"include_field_types": "no"},
    ],
    ids=_id,
)
def test_filters_built_directly_are_checked_as_arguments_are(sandbox: Any, filters: dict[str, Any]) -> None:
    """``ContactFilters(tags="lead")`` would otherwise be sent as the letters l, e, a, d."""
    from airflow_provider_callbell.api.filters import ContactFilters

    with pytest.raises(ValueError, match=f"^{next(iter(filters))} (must|looks like a list)"):
        ContactFilters(**filters)
    assert sandbox.stats.total_requests == 0
    assert ContactFilters(tags="lead").tags == ("lead",)  # type: ignore[arg-type]


def test_tags_spelt_in_two_cases_are_one_tag_as_callbell_matches_them() -> None:
    assert operator_tags("LEAD, lead, Vip, vip") == ("LEAD", "Vip")
    assert CallbellNewLeadsTrigger(since="2026-01-01", baseline=[], tags=["vip", "VIP"]).serialize()[1][
        "tags"
    ] == ["vip"]


def test_a_set_of_tags_is_one_tuple_in_any_process() -> None:
    """A set has no order, and string hashes differ from one process to the next: the trigger
    that identifies an asset watcher must serialize the same set the same way in each."""
    script = (
        "from airflow_provider_callbell.api.filters import parse_tags;"
        "print(parse_tags({'lead', 'vip', 'hot', 'new', 'b2b', 'cold'}),"
        "parse_tags(\"frozenset({'lead', 'vip', 'hot', 'new', 'b2b', 'cold'})\"))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(1, 5)
    }
    ordered = ("b2b", "cold", "hot", "lead", "new", "vip")
    assert seen == {f"{ordered} {ordered}\n"}


@pytest.mark.parametrize(
    "cleared",
    [
        [],
        (),
        set(),
        deque(),
        {}.keys(),
        "[]",
        "[ ]",
        "( )",
        "set()",
        "frozenset()",
        "deque([])",
        "dict_keys([])",
    ],
    ids=_id,
)
def test_every_empty_list_clears_a_contacts_tags(sandbox: Any, cleared: Any) -> None:
    contact = next(c for c in sandbox.contacts() if c["tags"])

    assert quick_hook().update_contact(contact["uuid"], tags=cleared)["tags"] == []


def test_tags_none_is_refused_where_it_would_clear_the_tags(sandbox: Any) -> None:
    """None means "no filter" everywhere; as a change it would wipe the tags, so it is refused."""
    contact = next(c for c in sandbox.contacts() if c["tags"])
    writes: list[Callable[[], object]] = [
        lambda: quick_hook().update_contact(contact["uuid"], tags=None),
        lambda: quick_hook().create_contact(phone_number="+39 333 000 4444", name="Ada", tags=None),
    ]
    for write in writes:
        with pytest.raises(ValueError, match=r"tags must be a list of tags, or \[\] to clear them, got None"):
            write()
    with pytest.raises(
        ValueError, match=r"tags must name at least one, e.g. \['lead', 'vip'\]; got ''"
    ) as caught:
        quick_hook().update_contact(contact["uuid"], tags="")
    assert "None" not in str(caught.value)
    assert sandbox.stats.total_requests == 0
    assert sandbox.get_contact(contact["uuid"])["tags"] == contact["tags"]


def test_a_collection_reads_as_its_text_does() -> None:
    """``deque(['lead'])`` and ``dict_keys(['lead'])`` are read as lists when rendered as text:
    the objects themselves, given with native rendering, are too."""
    from collections import deque

    collections: list[Any] = [deque(["lead", "vip"]), {"lead": 1, "vip": 2}.keys()]
    collections.append({1: "lead", 2: "vip"}.values())
    for given in collections:
        assert operator_tags(given) == operator_tags(repr(given)) == ("lead", "vip")
        export = CallbellListContactsOperator(task_id="export", fields=given)
        assert export._check()[1].fields == ("lead", "vip")
