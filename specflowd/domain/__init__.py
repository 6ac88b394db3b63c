"""Orchestration domain: the record, the evidence, decide(), transitions and prompts — pure, no I/O."""
