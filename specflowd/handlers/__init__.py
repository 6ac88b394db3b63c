"""RPC handler modules, one per message group."""
