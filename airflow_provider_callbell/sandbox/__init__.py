"""A local, Callbell-compatible API server, for tests, demos and benchmarks.

Like ``moto`` for AWS: start a :class:`CallbellSandbox`, point a client at its
``url`` with its ``token``, and inspect or steer it from Python. It runs on the
standard library only.
"""

from __future__ import annotations

from airflow_provider_callbell.sandbox.events import AccountState, SandboxEvent
from airflow_provider_callbell.sandbox.server import CallbellSandbox
from airflow_provider_callbell.sandbox.settings import DEFAULT_TOKEN, SandboxSettings

__all__ = ["DEFAULT_TOKEN", "AccountState", "CallbellSandbox", "SandboxEvent", "SandboxSettings"]
