"""The old home of :mod:`anonjax.fingerprint`, kept for the privacy stage until it imports from there."""

from anonjax.fingerprint import fingerprint, is_complete, mark_complete

__all__ = ["fingerprint", "is_complete", "mark_complete"]
