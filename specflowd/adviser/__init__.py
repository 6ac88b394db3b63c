"""The Claude adviser: typed, budgeted, read-only model calls for judgement the state model cannot make.

Settings, environment variables, files and decision-log entries call it the *helper* (``budget.helper_call``,
``SPECFLOW_HELPER_MODEL``, ``.specflow/helper/``, ``source: helper``): those are public contracts and keep
their names, and its types (``Helper``, ``HelperConfig``, ``HelperResult``) use the same word so that code
and settings read alike.

Import the submodules themselves (``specflowd.adviser.call``, ``.config``, …): this package imports nothing,
and nothing here imports ``anthropic`` (≈2.7 s) before the first real call.
"""
