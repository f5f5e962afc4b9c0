"""Writing streams of contacts to files: formats, and atomic delivery to local or object storage."""
