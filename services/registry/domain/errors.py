"""Errors of the registry's domain."""
from services.kernel.errors import Conflict


class StaleStream(Conflict):
    """Another transaction appended to the same stream (or wrote the same row) first. The facade retries the
    whole command, which then sees the new state; it surfaces as ``Conflict`` only after repeated losses."""
