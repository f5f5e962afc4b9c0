"""Transport-independent pieces of the Callbell API client, shared by the hook and the triggers."""
