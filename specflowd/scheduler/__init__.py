"""The run scheduler: groups with parallel limits, a fair queue across projects, one rate-limit gate per
account (docs/scheduler.md). Pure; the daemon service that persists it and starts admitted runs comes next.

Import the submodules themselves (``specflowd.scheduler.queue``, ``.models``): this package imports nothing.
"""
