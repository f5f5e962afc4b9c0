"""Object-storage paths Airflow cannot open fail naming the argument, the path and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from airflow_provider_callbell.operators.contacts import (
    CallbellListContactsOperator,
    CallbellUpsertContactsOperator,
)
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator


def _has_fs(scheme: str) -> bool:
    try:
        from airflow.sdk.io.fs import has_fs
    except ImportError:  # Airflow 2
        from airflow.io import has_fs  # type: ignore[no-redef,attr-defined]
    return has_fs(scheme)


#: Schemes fsspec knows that no provider installed here serves (checked at run time). Not memory:
#: a failed look-up stays cached, and tests/exports attach an in-memory store as memory://.
NOT_INSTALLED = [scheme for scheme in ("s3", "gs") if not _has_fs(scheme)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: CallbellListContactsOperator(task_id="t", output_path="foo://bucket/x.jsonl"),
        lambda: CallbellUpsertContactsOperator(task_id="t", input_path="foo://bucket/x.jsonl"),
        lambda: CallbellUpsertContactsOperator(task_id="t", contacts=[], report_path="foo://bucket/x.jsonl"),
        lambda: CallbellSendMessageOperator(task_id="t", input_path="foo://bucket/x.jsonl", text="Ciao"),
    ],
    ids=["output_path", "upsert-input_path", "report_path", "send-input_path"],
)
def test_an_unknown_scheme_fails_at_parse_time_naming_the_argument(make: Any, request: Any) -> None:
    name = request.node.callspec.id.split("-")[-1]

    with pytest.raises(
        ValueError, match=rf"'t': {name} 'foo://bucket/x.jsonl' has the scheme 'foo', which no"
    ):
        make()


@pytest.mark.parametrize("scheme", NOT_INSTALLED)
def test_a_missing_filesystem_fails_before_any_request_naming_the_output_path(
    sandbox: Any, scheme: str
) -> None:
    operator = CallbellListContactsOperator(task_id="export", output_path=f"{scheme}://bucket/x.jsonl")

    with pytest.raises(
        ValueError,
        match=rf"output_path '{scheme}://bucket/x.jsonl': no filesystem for {scheme}:// is installed .*"
        r"install .* give its connection as output_conn_id",
    ):
        operator.execute(cast(Any, {}))
    assert sandbox.stats.total_requests == 0


def test_the_provider_to_install_is_named() -> None:
    if "s3" not in NOT_INSTALLED:
        pytest.skip("a filesystem for s3:// is installed here")
    operator = CallbellListContactsOperator(task_id="export", output_path="s3://bucket/x.jsonl")

    with pytest.raises(ValueError, match=r"install apache-airflow-providers-amazon\[s3fs\]"):
        operator.execute(cast(Any, {}))


@pytest.mark.parametrize("scheme", NOT_INSTALLED)
def test_a_missing_filesystem_fails_before_any_request_naming_the_input_path(
    sandbox: Any, scheme: str
) -> None:
    path = f"{scheme}://nobucket/in.csv"
    match = rf"input_path '{path}': no filesystem for {scheme}:// is installed .* as input_conn_id"
    upsert = CallbellUpsertContactsOperator(task_id="upsert", input_path=path)

    with pytest.raises(ValueError, match=match):
        upsert.execute(cast(Any, {}))
    assert sandbox.stats.total_requests == 0
    send = CallbellSendMessageOperator(task_id="send", input_path=path, text="Ciao")
    with pytest.raises(ValueError, match=match):
        list(send._batch())


@pytest.mark.parametrize(
    "path", ["file:///tmp/out/x.jsonl#frag", "file:///tmp/out/x.jsonl?x=1", "s3://bucket/x.jsonl?versionId=1"]
)
def test_a_url_with_a_query_or_fragment_is_refused_at_parse_time(path: str) -> None:
    """Written as the file's name by some stores, dropped by others: never what was meant."""
    makers: list[Callable[[], object]] = [
        lambda: CallbellListContactsOperator(task_id="t", output_path=path, output_format="jsonl"),
        lambda: CallbellUpsertContactsOperator(task_id="t", input_path=path),
        lambda: CallbellSendMessageOperator(task_id="t", input_path=path, text="Ciao"),
    ]
    for make in makers:
        with pytest.raises(ValueError, match=r"_path must be a URL without a query or fragment \(\? or #\)"):
            make()
