"""Admission: which agent run may start now — groups with parallel limits, a fair queue across projects, one
rate-limit gate per account (docs/scheduler.md). Pure; the run scheduler service (services/scheduling.py)
gives it the clock, persists it and starts the admitted runs.

Import the submodules themselves (``specflowd.admission.queue``, ``.units``): this package imports nothing.
"""
