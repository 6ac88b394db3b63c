"""Persistence primitives: atomic JSON documents and append-only logs (``specflowd.store.atomic``) and the
orchestration files of a project (``specflowd.store.workflows``). This package imports nothing."""
