"""Apache Airflow provider for Callbell, the shared customer-messaging inbox."""

from __future__ import annotations

__version__ = "0.1.0"
