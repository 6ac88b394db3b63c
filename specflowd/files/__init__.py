"""Durable files: atomic JSON documents and append-only logs (``specflowd.files.atomic``), writes off the event
loop (``.offload``), the orchestration files of a project (``.workflows``), history indexes, the skills' state
file and the sweep of interrupted writes. This package imports nothing."""
