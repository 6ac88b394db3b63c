"""Persistence primitives: atomic JSON documents and append-only logs."""

from specflowd.store.atomic import append_jsonl, atomic_write_bytes, atomic_write_json, atomic_write_text, read_json

__all__ = ["append_jsonl", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "read_json"]
