"""Who consumes which events. One table drives the in-memory bus (embedded mode) and the nameko event
handlers (distributed mode); tests check that both agree with it.

Keys are consumer names, values map the *source service* to the event types consumed from it.
"""
from .events import REGISTRY_EVENT_TYPES

SUBSCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # the indexer applies every registry event that can change what a channel shows, in log order
    "indexer": {"registry": REGISTRY_EVENT_TYPES},
    # the gateway drops cached index metadata when a new index is published
    "gateway": {"indexer": ("index_published",)},
}

# event exchange of each source service (nameko's convention: "<service>.events", topic)
EXCHANGES = {"registry": "registry.events", "indexer": "indexer.events"}


def source_of(event_type: str) -> str:
    return "indexer" if event_type == "index_published" else "registry"
