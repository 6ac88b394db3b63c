"""Versions: the package's and the socket protocol's.

The package version lives only in pyproject.toml and is read from the installed metadata. The protocol
version is what clients compare (``daemon.hello.protocol_version``): bump it on incompatible RPC changes.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["PROTOCOL_VERSION", "__version__"]

try:
    __version__ = version("specflowd")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
PROTOCOL_VERSION = 2  # what changed at each version: CHANGELOG.md
