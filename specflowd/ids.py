"""Short ids (pure): run and orchestration ids may be given as a unique prefix, like git or pueue.

The daemon resolves prefixes, so every client (the CLI, editors) gets the same rule and the same errors:
an exact id always wins; otherwise the prefix must match exactly one known id.
"""

from __future__ import annotations

from collections.abc import Iterable

from specflowd.errors import AmbiguousId, NotFound

__all__ = ["resolve_prefix"]

_SHOWN = 5  # candidates named in an ambiguity error


def resolve_prefix(ref: str, known: Iterable[str], what: str) -> str:
    """The one id in ``known`` that equals ``ref`` or starts with it. ``what`` names the kind ("run")."""
    ids = set(known)
    if ref in ids:
        return ref
    matches = sorted(i for i in ids if i.startswith(ref)) if ref else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"no {what} {ref!r}", **{what: ref})
    shown = ", ".join(matches[:_SHOWN]) + (f" and {len(matches) - _SHOWN} more" if len(matches) > _SHOWN else "")
    raise AmbiguousId(
        f"{what} id prefix {ref!r} is ambiguous: it matches {shown}; give more characters",
        candidates=matches,
        **{what: ref},
    )
