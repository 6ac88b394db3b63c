"""Claude Helper: typed, budgeted, read-only model calls for judgement the state model cannot make.

Import the submodules themselves (``specflowd.helper.call``, ``.config``, …): this package imports nothing,
and nothing here imports ``anthropic`` (≈2.7 s) before the first real call.
"""
