"""Notifiers: Airflow callbacks that message people through Callbell."""
