"""Internals of the embedded document engine; the public API is `pol.store.embedded`."""
