"""CallbellListContactsOperator: the contacts of an account, filtered, into XCom or a file."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_callbell.api.filters import ContactFilters, TagsArg
from airflow_provider_callbell.api.selection import ContactSelection
from airflow_provider_callbell.arguments import (
    DEFAULT_MAX_XCOM_CONTACTS,
    MAX_CONCURRENCY,
    choice,
    conn_id,
    file_path,
    flag,
    identifier,
    known_now,
    named_for,
    optional_whole_number,
    rendered,
    variable_key,
    whole_number,
)
from airflow_provider_callbell.connection import DEFAULT_CONN_ID
from airflow_provider_callbell.exports.formats import SUFFIXES, known_format
from airflow_provider_callbell.exports.storage import same_file
from airflow_provider_callbell.upserts.rows import MATCH_ON, TAGS_MODES

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_callbell.api.pagination import Contact
    from airflow_provider_callbell.upserts.runner import Outcome, Upsert

DEFAULT_CONCURRENCY = 16
DEFAULT_WRITE_CONCURRENCY = 8
REPORT_FORMATS = ("jsonl", "json", "csv")
REPORT_FIELDS = ("row", "outcome", "uuid", "changed", "reason")
#: Failed rows whose reason is logged; the report holds them all.
LOGGED_FAILURES = 20


class CallbellListContactsOperator(BaseOperator):
    """
    List the contacts of a Callbell account, filtered, into XCom or into a file.

    Without ``output_path`` the matching contacts are the task's return value (XCom), up to
    ``max_xcom_contacts``. With it, they stream from Callbell into a file (JSON Lines, JSON,
    CSV or Parquet) on local disk or object storage, which appears complete at ``output_path``
    or not at all; the return value is then a summary ``{"path", "count", "format"}``.

    Every matching contact is delivered once, even while the account changes under the walk
    (messages move contacts to the top, contacts are created and deleted): see the README for
    the exact guarantee. Contacts come in the order Callbell lists them (most recent
    conversation first), stretch by stretch; those that moved to the top during the walk come
    last. ``concurrency`` requests run at once, under the connection's rate limit.

    :param callbell_conn_id: the ``callbell`` connection (API token, optional base URL).
    :param source: only contacts of this integration, e.g. ``whatsapp``. (templated)
    :param tags: only contacts carrying these tags: a list or a comma-separated string,
        matched case-insensitively. (templated)
    :param tags_match: ``any`` (default) keeps contacts carrying at least one of ``tags``,
        ``all`` only those carrying every one, checked here whatever Callbell does with
        several tags.
    :param team_uuid: only contacts of this team inbox. (templated)
    :param include_field_types: add ``customFieldsMetadata`` (custom field types) to contacts.
    :param created_after: only contacts created at or after this moment: a datetime or an ISO
        8601 string such as ``"{{ data_interval_start }}"``. (templated)
    :param created_before: only contacts created strictly before this moment. (templated)
    :param max_contacts: stop after this many matching contacts. (templated)
    :param fields: keep only these keys of each contact, in this order (list or
        comma-separated string); they are also the CSV/Parquet columns. (templated)
    :param output_path: where to write the contacts: a local path or an object-storage URL
        (``file://``, ``s3://``, ``gs://``... with the matching provider installed).
        (templated)
    :param output_format: ``jsonl``, ``json``, ``csv`` or ``parquet``; by default taken from
        the suffix of ``output_path`` (``.jsonl``/``.ndjson``, ``.json``, ``.csv``,
        ``.parquet``). (templated)
    :param output_conn_id: the connection of the object storage holding ``output_path``.
        (templated)
    :param max_xcom_contacts: without ``output_path``, fail rather than push more contacts than
        this into XCom, which lives in the metadata database; ``None`` for no limit.
    :param concurrency: requests under way at once (stretches of the list read side by side).
    :param incremental: export only the contacts created since the last successful run of this
        task, whatever triggered the run (schedule, manual, backfill, asset): the high-water
        mark is kept in the Airflow Variable ``watermark_key``. A retried or cleared run exports
        its own window again. ``created_after`` then only bounds the first run; put
        ``{{ run_id }}`` in ``output_path`` so that each run writes its own file. Contacts
        created in the minute before a run wait for the next one.
    :param watermark_key: the Variable holding the mark with ``incremental``; by default
        ``callbell_watermark.<dag_id>.<task_id>``. Delete it to export everything again. Up to
        250 letters, digits and ``_ # ! ( ) - . : / \\``. (templated)
    """

    template_fields: Sequence[str] = (
        "source",
        "tags",
        "team_uuid",
        "created_after",
        "created_before",
        "max_contacts",
        "fields",
        "output_path",
        "output_format",
        "output_conn_id",
        "watermark_key",
    )
    ui_color = "#e3f4ec"

    def __init__(
        self,
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        source: str | None = None,
        tags: TagsArg = None,
        tags_match: str = "any",
        team_uuid: str | None = None,
        include_field_types: bool = False,
        created_after: Any = None,
        created_before: Any = None,
        max_contacts: int | str | None = None,
        fields: str | Sequence[str] | None = None,
        output_path: str | None = None,
        output_format: str | None = None,
        output_conn_id: str | None = None,
        max_xcom_contacts: int | None = DEFAULT_MAX_XCOM_CONTACTS,
        concurrency: int = DEFAULT_CONCURRENCY,
        incremental: bool = False,
        watermark_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.callbell_conn_id = callbell_conn_id
        self.source = source
        self.tags = tags
        self.tags_match = tags_match
        self.team_uuid = team_uuid
        self.include_field_types = include_field_types
        self.created_after = created_after
        self.created_before = created_before
        self.max_contacts = max_contacts
        self.fields = fields
        self.output_path = output_path
        self.output_format = output_format
        self.output_conn_id = output_conn_id
        self._written: ObjectStoragePath | None = None
        with named_for(self):
            conn_id(callbell_conn_id, "callbell_conn_id")
            self.max_xcom_contacts = optional_whole_number(max_xcom_contacts, "max_xcom_contacts")
            self.concurrency = whole_number(concurrency, "concurrency", maximum=MAX_CONCURRENCY)
            self.incremental = flag(incremental, "incremental")
            self.watermark_key = watermark_key
        self._check(resolve=known_now)

    def _check(
        self, resolve: Callable[[Any], Any] = lambda given: given
    ) -> tuple[ContactFilters, ContactSelection, str | None]:
        """Validate the arguments, those known now (``resolve=known_now``) or all of them."""
        with named_for(self):
            filters = ContactFilters.of(
                source=resolve(self.source),
                tags=resolve(self.tags),
                team_uuid=resolve(self.team_uuid),
                include_field_types=self.include_field_types,
            )
            selection = ContactSelection.of(
                tags=resolve(self.tags),
                tags_match=self.tags_match,
                created_after=resolve(self.created_after),
                created_before=resolve(self.created_before),
                fields=resolve(self.fields),
                max_contacts=resolve(self.max_contacts),
            )
            self._check_incremental(resolve)
            return filters, selection, self._output_format(resolve)

    def _check_incremental(self, resolve: Callable[[Any], Any]) -> None:
        if not self.incremental:
            if self.watermark_key is not None:
                raise ValueError("watermark_key needs incremental=True")
            return
        if resolve(self.watermark_key) is not None:
            variable_key(self.watermark_key, "watermark_key")
        for argument in ("created_before", "max_contacts"):
            if getattr(self, argument) is not None:
                raise ValueError(
                    f"{argument} cannot be combined with incremental=True: each run exports every "
                    "contact created since the last successful one, up to when it starts"
                )

    def _output_format(self, resolve: Callable[[Any], Any]) -> str | None:
        path, output_format = resolve(self.output_path), resolve(self.output_format)
        if self.output_path is None:
            if self.output_format is not None or self.output_conn_id is not None:
                raise ValueError("output_format and output_conn_id need output_path")
            return None
        if resolve(self.output_conn_id) is not None:
            conn_id(self.output_conn_id, "output_conn_id")
        if self.output_format is not None and output_format is None:  # a template, read once rendered
            return None
        return known_format(None if path is None else _output_path(path), output_format)

    def execute(self, context: Context) -> Any:
        """Stream the matching contacts into XCom or the output file."""
        filters, selection, output_format = self._check()
        if output_format is not None:
            from airflow_provider_callbell.exports.atomic import check_target

            check_target(self._target(), _output_path(self.output_path), "output_path")
        if not self.incremental:
            return self._export(filters, selection, output_format)
        return self._export_increment(context["run_id"], filters, selection, output_format)

    def _export_increment(
        self, run_id: str, filters: ContactFilters, selection: ContactSelection, output_format: str | None
    ) -> Any:
        """Export this run's window of the watermark, then move the mark past it."""
        from airflow_provider_callbell.exports.watermark import VariableWatermark, default_key

        store = VariableWatermark(self.watermark_key or default_key(self.dag_id, self.task_id))
        mark = store.load()
        window = mark.window_for(run_id, datetime.now(UTC), selection.created_after)
        store.save(mark)
        self.log.info(
            "Exporting the contacts created from %s to %s (watermark in Variable %r)",
            window.created_after or "the beginning",
            window.created_before,
            store.key,
        )
        if window.created_after is not None and window.created_after >= window.created_before:
            self.log.warning(
                "This run exports nothing: its window starts at %s, not before its end (a minute ago at "
                "the latest). A mark in the future in Variable %r, or a created_after in the future, does "
                "that; delete the Variable or set an earlier mark if it is wrong",
                window.created_after,
                store.key,
            )
        bounded = replace(selection, created_after=window.created_after, created_before=window.created_before)
        result = self._export(filters, bounded, output_format)
        mark = store.load()
        mark.advance(window)
        store.save(mark)
        if output_format is None:
            return result
        after, before = window.dump()
        return {**result, "created_after": after, "created_before": before}

    def _export(self, filters: ContactFilters, selection: ContactSelection, output_format: str | None) -> Any:
        from airflow_provider_callbell.hooks.callbell import CallbellHook

        hook = CallbellHook(callbell_conn_id=self.callbell_conn_id)
        started = time.monotonic()
        stream = hook.iter_contacts(filters, concurrency=self.concurrency)
        with contextlib.closing(stream), contextlib.closing(hook):
            contacts = selection.apply(stream)
            if output_format is None:
                result: Any = self._collect(contacts)
                count, where = len(result), "XCom"
            else:
                result = self._write(contacts, output_format, selection)
                count, where = result["count"], result["path"]
            seconds = time.monotonic() - started
            self.log.info(
                "Listed %d contacts into %s: %d pages in %.1f s, %.0f contacts/s",
                count,
                where,
                stream.pages_read,
                seconds,
                count / seconds if seconds else 0.0,
            )
        return result

    def _collect(self, contacts: Iterator[Contact]) -> list[Contact]:
        collected: list[Contact] = []
        for contact in contacts:
            if len(collected) == self.max_xcom_contacts:
                raise AirflowFailException(
                    f"More than max_xcom_contacts={self.max_xcom_contacts} contacts match, and XCom "
                    "lives in Airflow's metadata database: set output_path to write them to a file "
                    "instead (or narrow the filters, or set max_contacts)."
                )
            collected.append(contact)
        return collected

    def _write(
        self, contacts: Iterable[Contact], output_format: str, selection: ContactSelection
    ) -> dict[str, Any]:
        from airflow_provider_callbell.exports.atomic import atomic_write
        from airflow_provider_callbell.exports.formats import WRITERS
        from airflow_provider_callbell.exports.schema import declared_types

        target = self._target()
        with atomic_write(target) as out:
            written = WRITERS[output_format](contacts, out, selection.fields)
        self._written = target
        self._written_types = declared_types(output_format, written.columns)
        return {"path": str(target), "count": written.count, "format": output_format}

    def _target(self) -> ObjectStoragePath:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        return ObjectStoragePath(_output_path(self.output_path), conn_id=self.output_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """OpenLineage: Callbell's contact list in, the written file out, with its columns and types."""
        try:
            from airflow.providers.common.compat.openlineage.facet import (
                Dataset,
                SchemaDatasetFacet,
                SchemaDatasetFacetFields,
            )
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        from airflow_provider_callbell.hooks.callbell import CallbellHook

        api = urlsplit(CallbellHook(callbell_conn_id=self.callbell_conn_id).base_url)
        inputs = [Dataset(namespace=f"{api.scheme}://{api.netloc}", name=f"{api.path}/contacts")]
        outputs = []
        if self._written is not None:
            target = self._written
            fields = [SchemaDatasetFacetFields(name=name, type=kind) for name, kind in self._written_types]
            outputs.append(
                Dataset(
                    namespace=target.namespace or "file",
                    name=target.key or target.path,
                    facets={"schema": SchemaDatasetFacet(fields=fields)},
                )
            )
        return OperatorLineage(inputs=inputs, outputs=outputs)


def _output_path(path: Any) -> str:
    return file_path(path, "output_path")


class CallbellUpsertContactsOperator(BaseOperator):
    """
    Write rows back to Callbell's contacts: tags, custom fields, name, agent, team, note.

    Rows use the keys of the Contact object as the export writes them, so an export, changed in
    the warehouse, upserts as it is; read-only keys (``createdAt``, ``href``...) are carried and
    ignored, unknown keys are errors. Only the keys present in a row are changed: ``None`` (an
    empty CSV cell) leaves a value as it is; ``""`` clears ``note`` or ``assignedUser``, ``[]``
    clears ``tags``. A row that would change nothing sends nothing. Contacts are found with one
    walk of the account when the rows are many, else a lookup a row. A retry after a failure
    midway ends in the same state: writes set values, and creations are looked up by number.

    :param callbell_conn_id: the ``callbell`` connection.
    :param contacts: the rows, a list of objects (e.g. an upstream task's ``.output``); or give
        ``input_path``. (templated)
    :param input_path: a JSON Lines, JSON, CSV or Parquet file of rows, local or on object
        storage. (templated)
    :param input_format: ``jsonl``, ``json``, ``csv`` or ``parquet``; by default from the suffix
        of ``input_path``. (templated)
    :param input_conn_id: the object-storage connection of ``input_path``. (templated)
    :param match_on: ``uuid`` (default): rows name contacts by ``uuid``; ``phone``: by
        ``phoneNumber``, formatting ignored, on ``channel_uuid``'s channel when given (the number
        decides: a ``uuid`` in the row, as an export has, is not compared).
    :param channel_uuid: with ``match_on="phone"``, the channel whose contacts rows name, and
        where missing ones are created. (templated)
    :param create_missing: with ``match_on="phone"``, create the contacts no row matches (a row
        then needs ``name``; ``source`` defaults to ``whatsapp``). Default False: such rows fail.
    :param tags_mode: ``set`` (default): a row's ``tags`` become the contact's tags; ``add``:
        they are added to its tags; ``remove``: they are removed from them.
    :param dry_run: find what would change and report it, writing nothing to Callbell.
    :param max_failures: how many rows may fail before the task does (default 0); the task
        fails only after every row was tried, and the report is written first.
    :param report_path: where to write one line per row (``row``, ``outcome``: created, updated,
        unchanged or failed, ``uuid``, ``changed``, ``reason``): a ``.jsonl`` (or ``.ndjson``),
        ``.json`` or ``.csv`` file, local or on object storage. (templated)
    :param report_conn_id: the object-storage connection of ``report_path``. (templated)
    :param concurrency: rows written at once, under the connection's rate limit.
    """

    template_fields: Sequence[str] = (
        "contacts",
        "input_path",
        "input_format",
        "input_conn_id",
        "channel_uuid",
        "report_path",
        "report_conn_id",
    )
    ui_color = "#e3f4ec"

    def __init__(
        self,
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        contacts: Any = None,
        input_path: str | None = None,
        input_format: str | None = None,
        input_conn_id: str | None = None,
        match_on: str = "uuid",
        channel_uuid: str | None = None,
        create_missing: bool = False,
        tags_mode: str = "set",
        dry_run: bool = False,
        max_failures: int = 0,
        report_path: str | None = None,
        report_conn_id: str | None = None,
        concurrency: int = DEFAULT_WRITE_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.callbell_conn_id = callbell_conn_id
        self.contacts = contacts
        self.input_path = input_path
        self.input_format = input_format
        self.input_conn_id = input_conn_id
        self.channel_uuid = channel_uuid
        self.report_path = report_path
        self.report_conn_id = report_conn_id
        with named_for(self):
            conn_id(callbell_conn_id, "callbell_conn_id")
            self.match_on = choice(match_on, "match_on", MATCH_ON)
            self.create_missing = flag(create_missing, "create_missing")
            self.tags_mode = choice(tags_mode, "tags_mode", TAGS_MODES)
            self.is_dry_run = flag(dry_run, "dry_run")
            self.max_failures = whole_number(max_failures, "max_failures", minimum=0)
            self.concurrency = whole_number(concurrency, "concurrency", maximum=MAX_CONCURRENCY)
            if self.create_missing and self.match_on != "phone":
                raise ValueError(
                    "create_missing=True needs match_on='phone': a contact is created from its "
                    "phone number, and Callbell gives it a new uuid"
                )
            if (contacts is None) == (input_path is None):
                raise ValueError("give the rows as contacts or as input_path, one of them")
            if input_path is None and (input_format is not None or input_conn_id is not None):
                raise ValueError("input_format and input_conn_id need input_path")
            if report_path is None and report_conn_id is not None:
                raise ValueError("report_conn_id needs report_path")
            if channel_uuid is not None and self.match_on != "phone":
                raise ValueError(
                    "channel_uuid needs match_on='phone': it names the channel whose phone numbers "
                    "rows give, and a uuid names one contact on any channel"
                )
        self._check(resolve=known_now)

    def _check(self, resolve: Callable[[Any], Any] = lambda given: given) -> tuple[str | None, str | None]:
        """The input's and the report's formats, checked as far as they are known."""
        with named_for(self):
            if resolve(self.channel_uuid) is not None:
                identifier(self.channel_uuid, "channel_uuid")
            rendered(resolve(self.contacts), "contacts", list)
            for name in ("input_conn_id", "report_conn_id"):
                if resolve(getattr(self, name)) is not None:
                    conn_id(getattr(self, name), name)
            input_format = None
            path, given_format = resolve(self.input_path), resolve(self.input_format)
            if self.input_path is not None and (self.input_format is None or given_format is not None):
                input_format = known_format(
                    None if path is None else file_path(path, "input_path"), given_format, side="input"
                )
            report = resolve(self.report_path)
            if path is not None and report is not None and same_file(path, report):
                raise ValueError(
                    f"report_path {report!r} names the input_path file: the report would overwrite "
                    "the rows it reports on"
                )
            report_format = None
            if report is not None:
                report_format = SUFFIXES.get(PurePosixPath(file_path(report, "report_path")).suffix.lower())
                if report_format not in REPORT_FORMATS:
                    raise ValueError(
                        f"report_path must end in .jsonl, .ndjson, .json or .csv, got {report!r}"
                    )
            return input_format, report_format

    def execute(self, context: Context) -> dict[str, Any]:
        """Upsert every row; fail after all were tried if more than ``max_failures`` failed."""
        from airflow_provider_callbell.hooks.callbell import CallbellHook
        from airflow_provider_callbell.upserts.runner import Upsert, UpsertSettings

        input_format, report_format = self._check()
        if report_format is not None:
            from airflow_provider_callbell.exports.atomic import check_target

            check_target(self._report_target(), file_path(self.report_path, "report_path"), "report_path")
        rows = self._rows(input_format)
        settings = UpsertSettings(
            match_on=self.match_on,
            channel_uuid=self.channel_uuid,
            create_missing=self.create_missing,
            tags_mode=self.tags_mode,
            dry_run=self.is_dry_run,
            concurrency=self.concurrency,
        )
        hook = CallbellHook(callbell_conn_id=self.callbell_conn_id)
        upsert = Upsert(hook, settings, rows)
        started = time.monotonic()
        with contextlib.closing(hook):
            report = self._report(upsert, report_format)
        counts = upsert.counts
        self.log.info(
            "%sUpserted %d rows in %.1f s: %d created, %d updated, %d unchanged, %d failed",
            "Dry run: " if self.is_dry_run else "",
            sum(counts.values()),
            time.monotonic() - started,
            counts["created"],
            counts["updated"],
            counts["unchanged"],
            counts["failed"],
        )
        if not sum(counts.values()):
            self.log.warning("The batch holds no rows: nothing was upserted")
        if counts["failed"] > self.max_failures:
            raise AirflowException(
                f"{counts['failed']} rows failed, more than max_failures={self.max_failures}"
                + (f": see the report at {report}" if report else ": see the reasons above")
            )
        return {**counts, "report_path": report, "dry_run": self.is_dry_run}

    def _rows(self, input_format: str | None) -> Callable[[], Iterable[Any]]:
        if input_format is None:
            with named_for(self):
                rows = rendered(self.contacts, "contacts", list)
            return lambda: rows
        from airflow_provider_callbell.exports.readers import InputFile

        key = "uuid" if self.match_on == "uuid" else "phoneNumber"
        return InputFile(file_path(self.input_path, "input_path"), self.input_conn_id, input_format, (key,))

    def _report(self, upsert: Upsert, report_format: str | None) -> str | None:
        failures = 0
        outcomes = (outcome for outcome in upsert.run())

        def logged(outcome: Outcome) -> dict[str, Any]:
            nonlocal failures
            if outcome.outcome == "failed" and failures < LOGGED_FAILURES:
                failures += 1
                self.log.warning("Row %d failed: %s", outcome.row, outcome.reason)
            return outcome.as_dict()

        if report_format is None:
            for outcome in outcomes:
                logged(outcome)
            return None

        from airflow_provider_callbell.exports.atomic import atomic_write
        from airflow_provider_callbell.exports.formats import WRITERS

        target = self._report_target()
        with atomic_write(target) as out:
            WRITERS[report_format]((logged(outcome) for outcome in outcomes), out, REPORT_FIELDS)
        return str(target)

    def _report_target(self) -> ObjectStoragePath:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        return ObjectStoragePath(file_path(self.report_path, "report_path"), conn_id=self.report_conn_id)
