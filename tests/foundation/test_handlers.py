"""The RPC surface as the daemon wires it, in-process: the method set is the public contract."""

from __future__ import annotations

import importlib
import pkgutil

import specflowd.handlers
from specflowd.daemon import HANDLERS, build_router
from specflowd.protocol.openrpc import build_openrpc

METHODS = {
    "daemon.hello", "daemon.status", "daemon.ping", "daemon.shutdown", "daemon.metrics",
    "rpc.discover",
    "projects.list", "projects.register", "projects.unregister", "projects.status", "projects.set_group",
    "orchestrate.preview", "orchestrate.start", "orchestrate.status", "orchestrate.list", "orchestrate.log",
    "orchestrate.pause", "orchestrate.resume", "orchestrate.cancel", "orchestrate.merge", "orchestrate.go_back",
    "orchestrate.recover",
    "runs.start", "runs.list", "runs.get", "runs.log", "runs.cancel",
    "questions.list", "questions.answer",
    "settings.get", "settings.check",
    "events.subscribe", "events.unsubscribe",
    "groups.list", "groups.add", "groups.set_limit", "groups.remove",
    "scheduler.status",
}  # fmt: skip


def test_the_method_set_is_the_documented_one() -> None:
    """Moving a handler between modules must not add, drop or rename a method (README lists them)."""
    assert set(build_router().specs) == METHODS


def test_one_handler_module_per_namespace_and_the_daemon_lists_them_all() -> None:
    """A method lives in the module named after its namespace, and a new handler module that the daemon's
    table does not list (its methods silently missing) fails here."""
    modules = {m.name for m in pkgutil.iter_modules(specflowd.handlers.__path__)}
    assert set(HANDLERS) == modules
    for namespace, router in HANDLERS.items():
        module = importlib.import_module(f"specflowd.handlers.{namespace}")
        assert module.router is router, namespace
        assert router.specs, namespace
        assert all(name.split(".")[0] == namespace for name in router.specs), (namespace, sorted(router.specs))


def test_no_two_models_of_the_rpc_contract_share_a_name() -> None:
    """Two models with one name get schema names qualified by their module path (``specflowd__x__y__Name``),
    so moving a module would rename them in rpc.discover's document: every name must be unique."""
    schemas = build_openrpc(build_router().specs)["components"]["schemas"]
    assert len(schemas) >= 60
    assert [name for name in schemas if "__" in name] == []


def test_only_calls_that_never_wait_are_answered_where_they_are_read() -> None:
    """A quick handler runs in the transport's read callback, outside any task: only methods that answer from
    memory may have one (a new one is a decision, documented in docs/daemon.md)."""
    quick = {name for name, spec in build_router().specs.items() if spec.quick is not None}
    assert quick == {"daemon.ping", "daemon.status"}
