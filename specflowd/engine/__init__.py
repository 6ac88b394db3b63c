"""The orchestration engine: I/O around the pure domain layer (decide / apply)."""
