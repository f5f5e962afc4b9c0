"""Checking arguments and settings: one rule per kind of value, the same everywhere.

Every check raises ``ValueError`` naming the argument, what it accepts and what it got, so the
operator, the sensor, the hooks and the triggers all read a value the same way. Templated
values arrive as strings once rendered: numbers and lists given as text are read as such.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import decimal
import fractions
import itertools
import json
import math
import numbers
import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

#: Above this many contacts, XCom mode fails and asks for a file instead.
DEFAULT_MAX_XCOM_CONTACTS = 1000
#: The largest count any argument accepts (contacts, leads): far above any account.
MAX_COUNT = 1_000_000_000
#: Requests of one walk under way at once, at most: far more than 300 requests a second need.
MAX_CONCURRENCY = 64
#: The longest wait between two looks of a trigger: a day.
MAX_POLL_INTERVAL = 86_400.0
#: Digits of a phone number: the shortest numbers in use have 7; E.164 allows 15, and an
#: international prefix written out (``00``, ``011``) adds up to 2 more.
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 17

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_PHONE = re.compile(r"\(?\+?[0-9(][0-9 ().-]*")
#: ``00``, the international prefix of most countries, before a country code (never ``0``).
_DIALLED_ABROAD = re.compile(r"^(?:\(00\)|(\(?)00)[ .-]?(?=[1-9])")
#: ``+`` then 0: no country code begins with 0 (``+0039`` is neither ``+39`` nor ``0039``).
_PLUS_ZERO = re.compile(r"^\(?\+[ (]*0")
#: A channel type as Callbell names it in ``from``: ``whatsapp``, ``instagram``, ``web_chat``...
_CHANNEL_TYPE = re.compile(r"[a-z][a-z0-9_]*")
#: What Airflow allows in a connection id.
_CONN_ID = re.compile(r"[\w#!()\-.:/\\]{1,250}")
_API_PATH = re.compile(r"[\w.~%:@!$&'()*+,;=-]+(/[\w.~%:@!$&'()*+,;=-]+)*")
_BRACKETED = re.compile(r"\[[0-9A-Fa-f:.]+\](:[0-9]*)?")
_MAX_LABEL, _MAX_HOST = 63, 253
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_EMOJI_JOINS = re.compile(
    r"(?<=[^\s\u200c\u200d])[\u200c\u200d](?=[^\s\u200c\u200d])|[\U000e0020-\U000e007e]+\U000e007f"
)
_OBJECT_TEXT = re.compile(r"<.* at 0x[0-9a-fA-F]+>")
#: The text a template renders for None or an empty set: never a tag, a field or a number.
_NOTHING = frozenset({"None", "null", "set()", "frozenset()"})
#: The top-level domains of private networks and of this machine, never reachable by Callbell.
_PRIVATE_DOMAINS = frozenset({"localhost", "local", "internal", "lan", "home", "arpa", "test", "invalid"})
#: ``name(...)``: how the text of a Python object other than a list, tuple or set begins.
_CALL = re.compile(r"([A-Za-z_]\w*)\((.*)\)", re.DOTALL)
#: Collections whose text wraps the list or set of their items (``frozenset({'a'})``), and
#: whether they are sets, whose order means nothing.
_WRAPPED = {
    **dict.fromkeys(("frozenset", "set"), frozenset),
    **dict.fromkeys(("deque", "dict_keys", "dict_values", "odict_keys", "odict_values"), list),
}
#: Objects besides Python's builtin types whose text a template may render in place of a list.
_OBJECTS = frozenset(
    {"dict_items", "odict_items", "OrderedDict", "Counter", "defaultdict", "ChainMap", "array"}
)
#: How the text a template renders for a list, a tuple or a set begins, and how it then ends.
_BRACKETS = {"[": "]", "(": ")", "{": "}"}
#: Characters that show the text after them reversed: pasted, a name or a message reads other
#: than it is written. (Embeddings and isolates, which right-to-left text uses, are fine.)
_BIDI_OVERRIDES = frozenset("\u202d\u202e")
#: Line breaks other than the control characters ``\n`` and ``\r``.
_SEPARATORS = frozenset({"Zl", "Zp"})
#: Categories that show nothing on their own: format characters (``\u200b``) and marks.
_SHOW_NOTHING = frozenset({"Cf", "Mn", "Me"})
#: Letters and symbols that show as nothing, as spaces and format characters (``\u200b``) do.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


class RepeatedNameError(ValueError):
    """An object names a key twice: which of its values counts is not said."""


def unique_names(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A JSON object whose names are not repeated (``json.loads``' ``object_pairs_hook``): which of
    two values counts is not said."""
    seen: set[Any] = set()
    for name, _ in pairs:
        if name in seen:
            raise RepeatedNameError(f"names {name!r} more than once: which of its values counts is not said")
        seen.add(name)
    return dict(pairs)


def json_without_repeats(data: str | bytes) -> None:
    """Refuse JSON text (already read by a faster decoder, which keeps a repeated key's last value)
    where an object names a key twice: :class:`RepeatedNameError`."""
    if "{" in data if isinstance(data, str) else b"{" in data:
        json.loads(data, object_pairs_hook=unique_names)


def is_template(value: Any) -> bool:
    """Whether ``value`` (or an item of it, or a value of a mapping: Airflow renders those, not
    keys) is a Jinja template, known only once rendered."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list | tuple | set):
        return any(is_template(item) for item in value)
    if isinstance(value, Mapping):
        return any(is_template(item) for item in value.values())
    return False


def known_now(value: Any) -> Any:
    """The value when it is known at DAG parse time, else ``None`` (it is checked once rendered):
    not a template, nor an upstream task's output (``task.output``, an ``XComArg``)."""
    from airflow.providers.common.compat.sdk import XComArg

    return None if is_template(value) or isinstance(value, XComArg) else value


@contextlib.contextmanager
def named_for(task: Any, task_id: str | None = None) -> Iterator[None]:
    """Prefix the ``ValueError`` of a check with the operator's class and task id (``task_id``
    before the operator has its own, or the task a notifier reports on)."""
    task_id = task_id or getattr(task, "task_id", None)
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{type(task).__name__}{f' {task_id!r}' if task_id else ''}: {error}") from None


def _shown(value: Any) -> str:
    if value == "":
        return "'' (an empty string, as a template that rendered nothing gives)"
    return repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."


def number_of(value: Any) -> float | None:
    """A number, or its text in plain ASCII notation (``5``, ``-2.5``, ``1e3``), as a float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real | decimal.Decimal):
        try:
            return float(value)
        except (OverflowError, ValueError):
            return None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value.strip())
    return None


def _exactly_whole(value: Any, number: float) -> bool:
    """Whether ``value`` is the whole ``number`` itself, not text or a Decimal a float rounds to one
    (``"1.0000000000000001"``)."""
    if not number.is_integer():
        return False
    if isinstance(value, str | decimal.Decimal):
        try:
            return decimal.Decimal(str(value).strip()) == int(number)
        except decimal.DecimalException:  # an exponent beyond what Decimal holds: no count
            return False
    return not isinstance(value, numbers.Rational) or value.denominator == 1


def whole_number(value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """A whole number from ``minimum`` to ``maximum``, given as a number or as text."""
    number = number_of(value)
    if number is None or not _exactly_whole(value, number) or not minimum <= number <= maximum:
        raise ValueError(f"{name} must be a whole number from {minimum} to {maximum}, got {_shown(value)}")
    return int(number)


def optional_whole_number(value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int | None:
    """:func:`whole_number`, or ``None`` (no limit)."""
    if value is None:
        return None
    try:
        return whole_number(value, name, minimum=minimum, maximum=maximum)
    except ValueError:
        raise ValueError(
            f"{name} must be a whole number from {minimum} to {maximum}, or None, got {_shown(value)}"
        ) from None


def number_between(value: Any, name: str, minimum: float, maximum: float) -> float:
    """A finite number from ``minimum`` to ``maximum``, given as a number or as text."""
    number = number_of(value)
    if number is None or not math.isfinite(number) or not minimum <= number <= maximum:
        raise ValueError(f"{name} must be a number from {minimum:g} to {maximum:g}, got {_shown(value)}")
    return number


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite ``int``, ``float``, ``Decimal`` or ``Fraction`` (not a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, decimal.Decimal):
        return value.is_finite()
    return isinstance(value, int | fractions.Fraction) or (isinstance(value, float) and math.isfinite(value))


def plain_number(value: int | float | decimal.Decimal | fractions.Fraction, name: str) -> str:
    """A finite number written plainly and exactly: ``91``, not ``91.0``; ``0.0000001``, not
    ``1e-07``; ``1/4`` as ``0.25``.

    Raises:
        ValueError: it has no exact form of at most 100 digits (``1/3``, a 150-digit Decimal).
    """
    exact = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
    try:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, fractions.Fraction):
            number = exact.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))
        else:
            number = decimal.Decimal(repr(value) if isinstance(value, float) else value)
        return "0" if number.is_zero() else format(number.normalize(exact), "f")
    except (ValueError, ArithmeticError):  # more digits than Python writes out, or than 100
        raise ValueError(
            f"{name} holds a number with no exact plain form (at most 100 significant digits, and an "
            "integer of at most 4,300 digits): give it as text"
        ) from None


def seconds(value: Any, name: str, minimum: float, maximum: float) -> float:
    """A duration in seconds: a ``timedelta``, or a number as :func:`number_between` reads one."""
    from datetime import timedelta

    if isinstance(value, timedelta):
        value = value.total_seconds()
    return number_between(value, name, minimum, maximum)


def flag(value: Any, name: str) -> bool:
    """``True`` or ``False``, nothing that merely looks like one (``'no'`` is truthy)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {_shown(value)}")
    return value


def choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    """One of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {_shown(value)}")
    return str(value)


def _blank_looking(char: str) -> bool:
    # marks (accents, variation selectors, the grapheme joiner) show nothing without a letter
    return char.isspace() or unicodedata.category(char) in _SHOW_NOTHING or char in _BLANK_LOOKING


def visible(value: str) -> bool:
    """Whether ``value`` shows something: not only spaces, characters that show as nothing
    (``\\u200b``, ``\\ufeff``) and marks with no letter to go on (``\\ufe0f``, ``\\u0301``)."""
    return not all(map(_blank_looking, value))


def text(value: Any, name: str) -> str:
    """A string with something visible in it, stripped; the error shows no value but a blank one
    (it may be personal)."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a non-empty string, got a {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {_shown(value)}")
    if not visible(value):
        raise ValueError(
            f"{name} must be a non-empty string, not only characters that show nothing; got {_shown(value)}"
        )
    return value.strip()


def _control(char: str, lines: bool) -> bool:
    category = unicodedata.category(char)
    if lines and (char in "\n\r\t" or category in _SEPARATORS):
        return False
    # a lone surrogate is half a character: no encoding can send it
    return category in ("Cc", "Cs") or category in _SEPARATORS or char in _BIDI_OVERRIDES


def no_controls(value: str, name: str, *, lines: bool = False) -> str:
    """``value``, which holds no control character (no line break nor tab either, unless
    ``lines``) nor a right-to-left override: a pasted escape sequence, NUL or override is never
    meant. The error names the character, not the text (it may be personal)."""
    found = next((char for char in value if _control(char, lines)), None)
    if found is not None:
        but = " other than line breaks and tabs" if lines else ", line breaks and tabs included"
        unnamed = "a lone surrogate" if unicodedata.category(found) == "Cs" else "a control character"
        what = unicodedata.name(found, unnamed).lower()
        raise ValueError(f"{name} must hold no control characters{but}: it holds U+{ord(found):04X} ({what})")
    return value


def free_text(value: Any, name: str, *, lines: bool = False) -> str:
    """:func:`text` that holds no control characters (see :func:`no_controls`)."""
    return no_controls(text(value, name), name, lines=lines)


def _matching(value: Any, name: str, pattern: re.Pattern[str], rule: str) -> str:
    """:func:`text` that matches ``pattern`` as a whole, other than the text a template renders for
    nothing (``None``, ``null``); else an error stating ``rule``."""
    given = text(value, name)
    if not pattern.fullmatch(given):
        raise ValueError(f"{name} must be {rule}, got {_shown(value)}")
    if given in _NOTHING:
        raise ValueError(f"{name} must be {rule}, got {given!r}, the text a template renders for nothing")
    return given


def identifier(value: Any, name: str) -> str:
    """A Callbell id or name such as a uuid or ``whatsapp``: letters, digits, ``_.:-``."""
    rule = "a Callbell identifier (letters, digits and _ . : -, starting with a letter or digit)"
    return _matching(value, name, _IDENTIFIER, rule)


def contact_uuid(value: Any, name: str) -> str:
    """A contact's uuid: an :func:`identifier` other than ``phone``, the path of the phone lookup."""
    given = identifier(value, name)
    if given.lower() == "phone":
        raise ValueError(f"{name} must be a contact's uuid, got 'phone': the path of the phone lookup")
    return given


def conn_id(value: Any, name: str) -> str:
    """An Airflow connection id, as given: letters, digits and ``_ # ! ( ) - . : / \\``."""
    return _airflow_key(value, name, "connection id")


def variable_key(value: Any, name: str) -> str:
    """An Airflow Variable's key, by the connection ids' rule: as given, never stripped into another."""
    return _airflow_key(value, name, "Variable key")


def _airflow_key(value: Any, name: str, what: str) -> str:
    if not isinstance(value, str) or not _CONN_ID.fullmatch(value) or value in _NOTHING:
        raise ValueError(
            f"{name} must be an Airflow {what} (1 to 250 letters, digits and _ # ! ( ) - . : "
            f"/ \\, no spaces), got {_shown(value)}"
        )
    return value


def channel_type(value: Any, name: str) -> str:
    """A channel type as Callbell names it: lowercase, such as ``whatsapp`` or ``web_chat``."""
    rule = (
        "a channel type in lowercase letters, digits and _, such as 'whatsapp', 'instagram', "
        "'facebook' or 'telegram'"
    )
    return _matching(value, name, _CHANNEL_TYPE, rule)


def host_problem(parts: SplitResult) -> str | None:
    """What is wrong with the host and port of a URL split by ``urlsplit`` (whose port is valid),
    or ``None``: a host name as DNS allows, an IPv4 address (four numbers up to 255) or an IPv6 one
    in brackets; any port but 0."""
    if parts.port == 0:
        return "port 0 is no port"
    port = _port_text(parts.netloc)
    if port == "" or (port or "").startswith("0"):
        return f"the port {port!r} is no port number as written (digits, no leading zero)"
    return _ipv6_problem(parts) if "[" in parts.netloc else _host_problem(parts.hostname or "")


def _port_text(netloc: str) -> str | None:
    """The port of ``netloc`` as written (``""`` for ``host:``), or ``None`` when it names none."""
    place = netloc.rpartition("@")[2]
    place = place.rpartition("]")[2] if place.startswith("[") else place
    return place.partition(":")[2] if ":" in place else None


def _ipv6_problem(parts: SplitResult) -> str | None:
    import ipaddress

    if "%" in (parts.hostname or ""):
        return f"{parts.netloc!r} names a zone (%...): only an IPv6 address without one is supported"
    try:
        ipaddress.IPv6Address(parts.hostname)
    except ValueError:
        return f"{parts.netloc!r} is not an IPv6 address in brackets"
    bracketed = parts.netloc.rpartition("@")[2]
    return None if _BRACKETED.fullmatch(bracketed) else f"{bracketed!r} holds text after its IPv6 address"


def _host_problem(host: str) -> str | None:
    import ipaddress

    if not _HOST.fullmatch(_ascii_host(host)):
        return f"{host!r} is not a host name"
    labels = _ascii_host(host).rstrip(".").split(".")
    if len(".".join(labels)) > _MAX_HOST or max(map(len, labels)) > _MAX_LABEL:
        return f"{_shown(host)} is not a host name: DNS allows at most 63 characters between dots, 253 in all"
    if host.rstrip(".").rpartition(".")[2].isdigit():
        try:
            ipaddress.IPv4Address(host.rstrip("."))
        except ValueError:
            return f"{host!r} is not an IPv4 address (four numbers from 0 to 255)"
    return None


def _ascii_host(host: str) -> str:
    """An internationalised host name in the ASCII form DNS knows (``xn--...``); any other as given."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def is_public_host(host: str) -> bool:
    """Whether ``host`` names a machine of the public internet: neither this one nor one of a
    private network (by address, or by a name without a dot or under ``.local``, ``.internal``...)."""
    host = _ascii_host(host).rstrip(".").lower()  # IDNA maps other full stops (U+3002) to "."
    address = ip_address_of(host)
    if address is None:
        return "." in host and host.rpartition(".")[2] not in _PRIVATE_DOMAINS
    embedded = _embedded_ipv4(address)
    return bool(address.is_global and (embedded is None or embedded.is_global))


def ip_address_of(host: str) -> Any:
    """The IP address ``host`` is written as, or ``None`` for a name."""
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _private_host_problem(host: str) -> str | None:
    """Why Callbell's servers, which fetch the media, could not reach ``host``; ``None`` if they may."""
    if is_public_host(host):
        return None
    host = _ascii_host(host).rstrip(".").lower()
    what = "host name" if ip_address_of(host) is None else "address"
    return f"{host!r} is not a public {what} (Callbell's servers fetch the media)"


def _embedded_ipv4(address: Any) -> Any:
    """The IPv4 address an IPv6 one stands for: mapped, 6to4, or NAT64's well-known prefix."""
    import ipaddress

    if address.version != 6:
        return None
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def web_url(value: Any, name: str) -> str:
    """A public http(s) URL with a valid host, in printable characters without spaces, and without
    credentials: Callbell's servers fetch it, so this machine's or a private network's are refused."""
    given = text(value, name)
    problem = None
    if not given.isprintable() or any(char.isspace() for char in given):
        problem = "it holds spaces or control characters (percent-encode them)"
    elif "\\" in given:
        problem = (
            "it holds a backslash, which browsers read as / and other parsers do not (percent-encode it)"
        )
    else:
        try:
            parts = urlsplit(given)
            parts.port  # noqa: B018 - an invalid port raises here
        except ValueError as error:
            problem = str(error)
        else:
            if parts.scheme.lower() not in ("http", "https"):
                problem = "its scheme must be http or https"
            else:
                problem = _web_host_problem(parts)
    if problem:
        raise ValueError(
            f"{name} must be an http(s) URL such as https://example.com/brochure.pdf: {problem}, "
            f"got {_shown(value)}"
        )
    return given


def _web_host_problem(parts: SplitResult) -> str | None:
    if not parts.hostname:
        return "it names no host"
    if "@" in parts.netloc:
        return "it holds credentials (user:password@), which would reach everyone the URL is shown to"
    return host_problem(parts) or _private_host_problem(parts.hostname)


def api_path(value: Any, name: str) -> str:
    """A path under the API's base URL such as ``contacts/abc``: no ``.`` or ``..`` segment to
    reach another endpoint, no query or fragment (give ``params``), no spaces."""
    given = text(value, name)
    # "%2e%2e", "%2F..%2F" and "..;" are ".." to servers that decode (once or more), or drop
    # parameters, before normalising
    decoded = unquote(unquote(unquote(given)))
    segments = {segment.partition(";")[0] for segment in re.split(r"[/\\]", decoded)}
    if {".", "..", ""} & segments or not _API_PATH.fullmatch(given):
        raise ValueError(
            f"{name} must be a path under the API such as 'contacts' or 'auth/me', without a leading "
            f"/, . or .. segments, a query or spaces, got {_shown(value)}"
        )
    return given


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def query_params(value: Any, name: str = "params") -> dict[str, str] | None:
    """Query parameters: names to texts or finite numbers (sent written plainly), or ``None``."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{name} must be a mapping of names to texts or numbers, got a {type(value).__name__}"
        )
    checked = {}
    for key, item in value.items():
        if not isinstance(key, str) or not visible(key) or key != key.strip():
            raise ValueError(
                f"{name} must name each parameter with non-empty text without spaces around it, got {key!r}"
            )
        no_controls(key, f"the names of {name}")
        if not (isinstance(item, str) or is_finite_number(item)):
            raise ValueError(
                f"{name}[{key!r}] must be text or a finite int, float, Decimal or Fraction, "
                f"got {_shown(item)}"
            )
        if isinstance(item, str):
            no_controls(item, f"{name}[{key!r}]")
        checked[key] = item if isinstance(item, str) else plain_number(item, f"{name}[{key!r}]")
    return checked


def request_arguments(
    method: Any, path: Any, params: Any, json: Any
) -> tuple[str, str, dict[str, str] | None, Any]:
    """The arguments of ``hook.request``, checked alike in both hooks."""
    return (
        choice(method, "method", HTTP_METHODS),
        api_path(path, "path"),
        query_params(params),
        json_body(json),
    )


def json_body(value: Any, name: str = "json") -> Any:
    """A request body JSON can write as it is (no NaN, no sets, objects named by texts), or ``None``."""
    if value is not None:
        try:
            json.dumps(value, allow_nan=False)
            _json_texts(value)
        except (TypeError, ValueError, RecursionError) as error:
            raise ValueError(
                f"{name} must be what JSON writes (objects, lists, text, finite numbers): {error}"
            ) from None
    return value


def _json_texts(value: Any) -> None:
    """Check that every object's keys are texts (JSON would write ``1`` and ``"1"`` both as
    ``"1"``), and that every text is valid Unicode (a lone surrogate is half a character)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"keys must be texts, got {_shown(key)}, which JSON would write as text")
            _json_texts(key)
            _json_texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _json_texts(item)
    elif isinstance(value, str) and any(unicodedata.category(char) == "Cs" for char in value):
        raise TypeError("texts must be valid Unicode: one holds a lone surrogate, half a character")


def optional_identifier(value: Any, name: str) -> str | None:
    """:func:`identifier`, or ``None``."""
    return None if value is None else identifier(value, name)


def _balanced(value: str) -> bool:
    """Whether every bracket of ``value`` closes, none inside another."""
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth not in (0, 1):
            return False
    return depth == 0


def _is_phone_number(value: str) -> bool:
    digits = sum(char.isdigit() for char in value)
    return (
        bool(_PHONE.fullmatch(value)) and _balanced(value) and MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS
    )


def international(number: str) -> str:
    """``number`` with a leading ``00``, the international prefix, written ``+``: ``0039 333``
    is ``+39 333``, to Callbell and in every comparison."""
    return _DIALLED_ABROAD.sub(lambda dialled: f"{dialled[1] or ''}+", number)


def phone_number(value: Any, name: str) -> str:
    """A phone number: 7 to 17 digits with an optional leading ``+``, and spaces, dots, dashes and
    brackets that close (``(+39) 333 000 1111``; ``0039 333 000 1111``, read as ``+39 333 000
    1111``). Errors never show it."""
    rule = (
        f"a phone number as text, such as '+39 123 456 789': {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} "
        "digits, an optional leading +, spaces, dots, dashes and closed brackets"
    )
    if not isinstance(value, str):
        lost = ", not a number: its + and leading zeros would be lost" if number_of(value) is not None else ""
        raise ValueError(f"{name} must be {rule}; got a {type(value).__name__}{lost}")
    given = international(value.strip())
    if _PLUS_ZERO.match(given):
        raise ValueError(f"{name} must be {rule}; got + then 0, but no country code begins with 0")
    if not _is_phone_number(given):
        digits = sum(char.isdigit() for char in given)
        got = f"a text of {len(given)} characters, {digits} of them digits" if given else "''"
        raise ValueError(f"{name} must be {rule}; got {got}")
    return given


def phone_key(number: str) -> str:
    """A phone number's digits: formatting never tells two numbers apart (nor ``00`` from ``+``)."""
    return "".join(char for char in international(number.strip()) if char.isdigit())


def _python_literal(value: str) -> Any:
    """The Python literal ``value`` writes (a template renders lists, tuples and mappings so),
    never strings joined because a comma is missing between them (``"['a' 'b']"``)."""
    import io
    import tokenize

    tree = ast.parse(value.strip(), mode="eval")
    for mapping in (node for node in ast.walk(tree) if isinstance(node, ast.Dict)):
        unique_names([(ast.literal_eval(key), None) for key in mapping.keys if key is not None])
    parsed = ast.literal_eval(tree)
    try:
        kinds = [token.type for token in tokenize.generate_tokens(io.StringIO(value).readline)]
    except (tokenize.TokenError, SyntaxError) as error:
        raise ValueError(str(error)) from None
    kinds = [kind for kind in kinds if kind not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    if any(first == second == tokenize.STRING for first, second in itertools.pairwise(kinds)):
        raise ValueError("strings joined where a comma is missing")
    return parsed


def _json_once(value: str) -> Any:
    """JSON text, no object of which names a key twice."""
    return json.loads(value, object_pairs_hook=unique_names)


def _listed(value: str, name: str) -> Any:
    """A list rendered as text (``"['a', 'b']"``, ``'["a", "b"]'``, ``"('a',)"``), as a list."""
    for parse in (json.loads, _python_literal):
        try:
            parsed = parse(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(parsed, list | tuple | set):
            return parsed
    raise ValueError(
        f"{name} looks like a list rendered as text but is not one: text in matching brackets must "
        f"be a list of strings such as ['a', 'b'] or ('a', 'b'), got {_shown(value)}"
    )


def _looks_listed(value: str) -> bool:
    """Whether ``value`` is bracketed as a template renders a list, a tuple or a set: it opens
    with ``[``, ``(`` or ``{`` and closes with the matching bracket. A phone number never is,
    even one like ``(02) 1234 (5678)``; nor is text that merely opens or closes with a bracket,
    such as ``(02) 1234 5678`` or ``Promo (2024)``."""
    if len(value) < 2 or _BRACKETS.get(value[0]) != value[-1]:
        return False
    return not all(_is_phone_number(part.strip()) for part in value.split(","))


def _items_of(given: str, name: str) -> Any:
    """The items of a list given as text: a comma-separated string, or the text a template renders
    for a list, a tuple, a set or a collection such as ``frozenset({'a'})`` or ``dict_keys(['a'])``;
    the text of any other Python object (``range(0, 3)``) is refused, not split at its commas."""
    call = _CALL.fullmatch(given)
    if call and call[1] in _WRAPPED:
        items = _listed(call[2].strip(), name)
        return _WRAPPED[call[1]](items) if all(isinstance(item, str) for item in items) else items
    if call and (call[1] in _OBJECTS or isinstance(getattr(builtins, call[1], None), type)):
        raise ValueError(
            f"{name} must be a list of strings or a comma-separated string, got {_shown(given)}: the "
            f"text of a Python {call[1]}, not its items (render a list, e.g. with list())"
        )
    if _looks_listed(given):
        return _listed(given, name)
    return given.split(",") if given else []


def _not_a_name(item: str) -> bool:
    """Control characters, a quote at either end, or the text of a Python object
    (``<... at 0x...>``): what a template rendering the wrong thing gives (``'lead'``, or
    ``['lead'`` of a list cut short), never a tag or a key. The joiners and tag characters
    that compose an emoji (woman technologist, the flag of Scotland) are part of a name; alone
    or at an edge they are not."""
    item = item.strip()
    quoted = item[:1] in ("'", '"') or item[-1:] in ("'", '"')
    printable = _EMOJI_JOINS.sub("", item).isprintable() and visible(item)
    return not printable or quoted or item in _NOTHING or bool(_OBJECT_TEXT.fullmatch(item))


def string_list(
    value: Any, name: str, *, example: str, ordered: bool = False, optional: bool = True
) -> tuple[str, ...]:
    """Non-blank strings from a list, a comma-separated string or a list rendered as text.

    A rendered template gives the text of a list (``"['lead', 'vip']"``) unless the DAG renders
    native objects: both read as the list. Only text opening and closing with matching brackets
    is read as one (and must then be one); a phone number never is. Blank entries are errors,
    not "no filter".
    """
    items: Any = value
    or_none, or_be_none = (", or None", ", or be None") if optional else ("", "")
    if isinstance(value, str) and value.strip() in _NOTHING:
        raise ValueError(
            f"{name} must name at least one, e.g. {example}{or_be_none}; got {_shown(value)}, the text a "
            "template renders for nothing"
        )
    if isinstance(value, str):
        items = _items_of(value.strip(), name)
    elif isinstance(value, deque | KeysView | ValuesView):  # as their texts are read
        items = list(value)
    if not isinstance(items, list | tuple) and (ordered or not isinstance(items, set | frozenset)):
        kind = "a list" if ordered else "a list or a set"
        raise ValueError(f"{name} must be {kind} of strings or a comma-separated string, got {_shown(value)}")
    parsed = []
    for item in items:
        if not isinstance(item, str) or not item.strip() or "," in item or _not_a_name(item):
            raise ValueError(
                f"{name} must be non-blank printable strings without commas or quotes at either end, "
                f"e.g. {example}{or_none}; "
                f"got {_shown(item)} in {_shown(value)}"
            )
        parsed.append(item.strip())
    if isinstance(items, set | frozenset):
        parsed.sort()  # a set has no order: the same set, the same tuple, in any process
    if not parsed:
        raise ValueError(f"{name} must name at least one, e.g. {example}{or_be_none}; got {_shown(value)}")
    return tuple(dict.fromkeys(parsed))


def file_path(value: Any, name: str) -> str:
    """A file's URL, or its absolute local path (a relative one would land wherever the worker runs)."""
    given = text(value, name)
    if given.endswith(("/", "/.", "/..")) or not given.isprintable():
        raise ValueError(f"{name} must name a file, in printable characters, got {given!r}")
    if given.lower().startswith("file:") and not re.match(r"file:///[^/]", given, re.IGNORECASE):
        raise ValueError(
            f"{name} must be a file URL with an absolute path and no host, such as "
            f"file:///data/contacts.jsonl, got {given!r}"
        )
    if "://" in given and ("?" in given or "#" in given):
        raise ValueError(
            f"{name} must be a URL without a query or fragment (? or #), got {given!r}: some stores would "
            "write them into the file's name, others drop them (percent-encode a ? or # the name holds)"
        )
    if "://" not in given and not given.startswith("/"):
        raise ValueError(
            f"{name} must be an absolute path or a URL such as file:///data/contacts.jsonl or "
            f"s3://bucket/contacts.parquet, got {given!r}: a relative path would land in the "
            "worker's working directory"
        )
    from airflow_provider_callbell.exports.storage import check_scheme

    check_scheme(given, name)
    return given


def rendered(value: Any, name: str, kind: type) -> Any:
    """A list or mapping, also as the text a template renders for one (JSON or a Python literal)."""
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, str):
        for parse in (_json_once, _python_literal):
            try:
                parsed = parse(value)
            except RepeatedNameError as error:
                raise ValueError(f"{name}: an object {error}") from None
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if kind is list and isinstance(parsed, tuple):
                parsed = list(parsed)
            if isinstance(parsed, kind):
                return parsed
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind is list and isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value  # a mapped upstream task's output, read lazily
    raise ValueError(f"{name} must be a {'list' if kind is list else 'mapping'}, got {type(value).__name__}")
