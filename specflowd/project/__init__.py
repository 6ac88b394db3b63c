"""The project model: the tasks.md grammar, the batch planner, the snapshot reader and the status and
preview builders. Everything but ``snapshot.read_project_snapshot`` (and the registry) is pure.

Import the submodules themselves; this package imports nothing.
"""
