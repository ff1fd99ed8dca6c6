"""The clock, under the name services and tests used before it became the leaf module
`archive.clock` (which models may import): the same functions, so moving it here moves it there."""

from archive.clock import now, reset, today, travel

__all__ = ["now", "reset", "today", "travel"]
