"""The Callbell endpoints the sandbox imitates, and the routing to them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow_provider_callbell.sandbox.cursors import decode_cursor
from airflow_provider_callbell.sandbox.messages import (
    INBOUND,
    MessageBook,
    UnknownRecipientError,
    WindowClosedError,
    listed_json,
    status_json,
)
from airflow_provider_callbell.sandbox.payloads import (
    PayloadError,
    creation_fields,
    parse_object,
    patch_edit,
)
from airflow_provider_callbell.sandbox.records import ContactRecord, encode_json
from airflow_provider_callbell.sandbox.responses import (
    Response,
    error_response,
    json_response,
)
from airflow_provider_callbell.sandbox.send_payload import send_request
from airflow_provider_callbell.sandbox.store import (
    ContactConflictError,
    ContactFilter,
    ContactLimitError,
    ContactStore,
    Page,
    StaleCursorError,
)

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox.settings import SandboxSettings

PREFIX = "/v1"
TEMPLATES_PER_PAGE = 20
USER_EMAIL = "owner@example.com"
USER_NAME = "Sandbox"


@dataclass(frozen=True, slots=True)
class Call:
    """A request routed to an endpoint."""

    settings: SandboxSettings
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = b""

    def flag(self, name: str) -> bool:
        """Whether the boolean query parameter ``name`` is on."""
        return self.query.get(name, "").lower() in ("true", "1")


Handler = Callable[[Call], Response]


def _not_found(_: Call) -> Response:
    return error_response(404, "Not found")


def _method_not_allowed(allowed: str) -> Handler:
    def handler(_: Call) -> Response:
        return error_response(405, "Method not allowed", (("Allow", allowed),))

    return handler


class Endpoints:
    """The endpoints over one :class:`ContactStore` and its :class:`MessageBook`."""

    def __init__(self, store: ContactStore, messages: MessageBook) -> None:
        """Serve the contacts of ``store`` and the messages of ``messages``."""
        self.store = store
        self.messages = messages
        self._routes: tuple[tuple[re.Pattern[str], Mapping[str, Handler]], ...] = (
            (re.compile(r"/auth/me"), {"GET": self.auth_me}),
            (re.compile(r"/contacts"), {"GET": self.list_contacts, "POST": self.create_contact}),
            (re.compile(r"/contacts/phone/(?P<number>[^/]+)"), {"GET": self.by_phone}),
            (re.compile(r"/contacts/bsuid/(?P<bsuid>[^/]+)"), {"GET": self.by_bsuid}),
            (
                re.compile(r"/contacts/(?P<uuid>[^/]+)"),
                {"GET": self.get_contact, "PATCH": self.update_contact, "DELETE": self.delete_contact},
            ),
            (re.compile(r"/contacts/(?P<uuid>[^/]+)/messages"), {"GET": self.contact_messages}),
            (re.compile(r"/messages/send"), {"POST": self.send_message}),
            (re.compile(r"/messages/status/(?P<uuid>[^/]+)"), {"GET": self.message_status}),
            (re.compile(r"/templates"), {"GET": self.list_templates}),
            (re.compile(r"/templates/(?P<uuid>[^/]+)"), {"GET": self.get_template}),
        )

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for ``method`` on ``path``, with the path's parameters."""
        if not path.startswith(PREFIX + "/"):
            return _not_found, {}
        relative = path[len(PREFIX) :].rstrip("/")
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(relative)
            if match is None:
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            handler = handlers.get(method)
            if handler is None:
                return _method_not_allowed(", ".join(handlers)), params
            return handler, params
        return _not_found, {}

    def auth_me(self, call: Call) -> Response:
        """``GET /auth/me``: who the token belongs to; no part of the key comes back."""
        return json_response(
            200,
            {
                "status": "ok",
                "user_email": USER_EMAIL,
                "user_name": USER_NAME,
                "api_key": "****",
            },
        )

    def list_contacts(self, call: Call) -> Response:
        """``GET /contacts``: one page of the filtered list.

        A cursor whose snapshot is no longer kept, or that is sent with other
        filters than its walk began with, is as invalid as a malformed one.
        """
        settings = call.settings
        query = _contact_filter(call.query, settings)
        after = call.query.get("after") if settings.pagination == "cursor" else None
        if after:
            try:
                page = self.store.page_after(query, decode_cursor(after), settings.page_size)
            except (ValueError, StaleCursorError):
                return error_response(400, "Invalid pagination cursor")
        else:
            number = _page_number(call.query.get("page", "1"))
            if number is None:
                return error_response(400, "Invalid page")
            if settings.page_cap is not None and number > settings.page_cap:
                return error_response(400, "Pagination limit exceeded")
            page = self.store.page(query, number, settings.page_size, settings.cursor_semantics)
        body = _page_body(page, settings.pagination, call.flag("include_field_types"))
        return Response(200, body)

    def get_contact(self, call: Call) -> Response:
        """``GET /contacts/{uuid}``."""
        return _contact_response(self.store.get(call.params["uuid"]), call)

    def by_phone(self, call: Call) -> Response:
        """``GET /contacts/phone/{number}``, optionally within one channel."""
        record = self.store.find_by_phone(call.params["number"], call.query.get("channel_uuid") or None)
        return _contact_response(record, call)

    def by_bsuid(self, call: Call) -> Response:
        """``GET /contacts/bsuid/{bsuid}``."""
        return _contact_response(self.store.find_by_bsuid(call.params["bsuid"]), call)

    def create_contact(self, call: Call) -> Response:
        """``POST /contacts``."""
        try:
            fields = creation_fields(parse_object(call.body), self.store.catalog)
            record = self.store.add(fields)
        except PayloadError as error:
            return error_response(400, str(error))
        except ContactConflictError:
            return error_response(409, "Contact already exists")
        except ContactLimitError:
            return _contact_limit()
        return _contact_response(record, call)

    def update_contact(self, call: Call) -> Response:
        """``PATCH /contacts/{uuid}``: ``custom_fields`` are merged, the rest replaced."""
        try:
            edit = patch_edit(parse_object(call.body), self.store.catalog)
            record = self.store.update(call.params["uuid"], edit)
        except PayloadError as error:
            return error_response(400, str(error))
        except KeyError:
            return error_response(404, "Contact not found")
        return _contact_response(record, call)

    def delete_contact(self, call: Call) -> Response:
        """``DELETE /contacts/{uuid}``."""
        try:
            self.store.delete(call.params["uuid"])
        except KeyError:
            return error_response(404, "Contact not found")
        return json_response(200, {"status": "contact was destroyed"})

    def contact_messages(self, call: Call) -> Response:
        """``GET /contacts/{uuid}/messages``: a page of the contact's messages, newest first."""
        number = _page_number(call.query.get("page", "1"))
        if number is None:
            return error_response(400, "Invalid page")
        page = self.messages.page(call.params["uuid"], number)
        if page is None:
            return error_response(404, "Contact not found")
        interval = call.settings.message_status_interval
        listed = [listed_json(message, self.messages.progress(message, interval)) for message in page]
        return json_response(200, {"messages": listed})

    def send_message(self, call: Call) -> Response:
        """``POST /messages/send``: 400 for an invalid body, 422 outside the 24-hour window."""
        try:
            request = send_request(parse_object(call.body), self.store.catalog)
            message = self.messages.send(request, call.settings.message_failure_rate)
        except PayloadError as error:
            return error_response(400, str(error))
        except WindowClosedError as error:
            return error_response(422, str(error))
        except UnknownRecipientError:
            return error_response(404, "Contact not found")
        except ContactLimitError:
            return _contact_limit()
        return json_response(200, {"message": {"uuid": message.uuid, "status": "enqueued"}})

    def message_status(self, call: Call) -> Response:
        """``GET /messages/status/{uuid}``: a sent message and its delivery status."""
        message = self.messages.get(call.params["uuid"])
        if message is None or message.direction == INBOUND:
            return error_response(404, "Message not found")
        progress = self.messages.progress(message, call.settings.message_status_interval)
        return json_response(200, {"message": status_json(message, progress)})

    def list_templates(self, call: Call) -> Response:
        """``GET /templates``: a page of the account's templates."""
        number = _page_number(call.query.get("page", "1"))
        if number is None:
            return error_response(400, "Invalid page")
        templates = self.store.catalog.templates
        start = (number - 1) * TEMPLATES_PER_PAGE
        return json_response(
            200,
            {
                "templates": [dict(t) for t in templates[start : start + TEMPLATES_PER_PAGE]],
                "meta": {"page": number, "pages": math.ceil(len(templates) / TEMPLATES_PER_PAGE)},
            },
        )

    def get_template(self, call: Call) -> Response:
        """``GET /templates/{uuid}``."""
        template = self.store.catalog.template(call.params["uuid"])
        if template is None:
            return error_response(404, "Template not found")
        return json_response(200, {"template": template})


def _contact_filter(query: Mapping[str, str], settings: SandboxSettings) -> ContactFilter:
    tags = (tag.strip().lower() for tag in query.get("tags", "").split(","))
    return ContactFilter(
        source=query.get("source", "").strip().lower() or None,
        tags=frozenset(tag for tag in tags if tag),
        all_tags=settings.tags_semantics == "all",
        team_uuid=query.get("team_uuid") or None,
    )


def _contact_limit() -> Response:
    return error_response(422, "Contact limit reached: the account holds as many contacts as it can")


#: More digits than any page number needs; far fewer than Python's ``int()`` refuses (4300).
MAX_PAGE_DIGITS = 18


def _page_number(value: str) -> int | None:
    """A page number from 1, or ``None``: not ASCII digits, zero, or more digits than any page."""
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0")
    if not digits or len(digits) > MAX_PAGE_DIGITS:
        return None
    return int(digits)


def _contact_bytes(record: ContactRecord, field_types: bool) -> bytes:
    return record.body_with_field_types() if field_types else record.body


def _page_body(page: Page, pagination: str, field_types: bool) -> bytes:
    contacts = b",".join(_contact_bytes(record, field_types) for record in page.records)
    if pagination == "pages":
        return b'{"contacts":[' + contacts + b"]}"
    meta: dict[str, Any] = {"page": page.number, "pages": page.pages}
    if pagination == "cursor":
        meta["next"] = page.next.encode() if page.next else None
    return b'{"contacts":[' + contacts + b'],"meta":' + encode_json(meta) + b"}"


def _contact_response(record: ContactRecord | None, call: Call) -> Response:
    if record is None:
        return error_response(404, "Contact not found")
    body = _contact_bytes(record, call.flag("include_field_types"))
    return Response(200, b'{"contact":' + body + b"}")
