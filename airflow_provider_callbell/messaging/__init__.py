"""Sending messages in batches: what each row sends, and the ledger that keeps retries from repeating it."""
