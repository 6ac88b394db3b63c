"""Versions: the package's and the socket protocol's (bumped on incompatible RPC changes)."""

__all__ = ["PROTOCOL_VERSION", "__version__"]

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
