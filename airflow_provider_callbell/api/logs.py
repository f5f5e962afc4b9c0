"""The logger interface the API helpers need, met by ``logging`` and Airflow's task loggers."""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    """What the helpers call on a logger."""

    def info(self, msg: str, /, *args: Any) -> Any:
        """Log at INFO."""

    def warning(self, msg: str, /, *args: Any) -> Any:
        """Log at WARNING."""
