"""Agent runs: the claude command line, stream-json parsing, supervision, restart re-adoption (docs/runs.md).

Import the submodules themselves (``specflowd.runner.manager``, ``.models``, …): this package imports
nothing, so naming one pure part of it never loads the supervisor, anyio or psutil.
"""
