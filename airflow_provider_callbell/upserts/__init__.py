"""Writing rows back to Callbell: checked rows, their changes, and the upsert that applies them."""
