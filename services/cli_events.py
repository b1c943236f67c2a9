"""Event consumption commands of ``wharf`` (registered by ``services/cli.py``), for whoever runs the server: they
reach the indexer's and the registry's databases directly, with the server's environment, as ``wharf verify``
does, so they work whether the indexer runs or not.

    wharf events list-stuck [--json]     the streams the indexer is stopped at, with the event parked (dead
                                         letter: malformed, or of a newer version than the code knows), why,
                                         since when and how often it was tried; exit 0 when none, 1 otherwise
    wharf events retry [STREAM]          try the parked event of every stopped stream (or of STREAM) again now,
                                         reading the stream from the registry's log (after a code fix, a new
                                         upcaster, a corrected log row); what applies is published by the
                                         running indexer; exit 0 when no stream (of those tried) is left stuck

The indexer also tries every parked event again by itself at each catch-up round (at start and every
``WHARF_CATCH_UP_INTERVAL``), so newer code deployed applies what it parked; ``retry`` does it at once."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from services.kernel.errors import NotFound


def _facades(args):
    from services.cli import _settings
    from services.cli_accounts import require_server_data
    from services.indexer.bootstrap import bootstrap as indexer_bootstrap
    from services.registry.bootstrap import bootstrap as registry_bootstrap
    require_server_data(args)
    settings = _settings(args)
    registry = registry_bootstrap(settings, publisher=None)
    return registry, indexer_bootstrap(settings, publisher=None, log_reader=registry.read_stream)


def _when(ms) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, timezone.utc).isoformat(timespec="seconds")


def cmd_list_stuck(args) -> int:
    _registry, indexer = _facades(args)
    letters = indexer.dead_letters()
    if args.json:
        print(json.dumps(letters, indent=2, sort_keys=True))
    elif not letters:
        print("no stream is stuck")
    for d in [] if args.json else letters:
        print(f"{d['stream_id']} stopped at #{d['sequence']}: {d['event_type']} v{d['version']} ({d['reason']}) "
              f"parked {_when(d['parked_at'])}, {d['attempts']} attempts, last {_when(d['tried_at'])}\n"
              f"    {d['error']}")
    return 1 if letters else 0


def cmd_retry(args) -> int:
    registry, indexer = _facades(args)
    if args.stream and not indexer.dead_letters(args.stream):
        raise NotFound(f"stream {args.stream!r} is not stuck")
    results = indexer.retry_parked(registry.stream_heads(), args.stream or None)
    for r in results:
        if r["stuck"]:
            print(f"{r['stream_id']}: still stopped at #{r['sequence']}: {r['error']}")
        else:
            print(f"{r['stream_id']}: resumed at #{r['sequence']}, {r['applied']} events applied")
    if not results:
        print("no stream is stuck")
    return 1 if any(r["stuck"] for r in results) else 0


def add_event_commands(sub) -> None:
    e = sub.add_parser("events", help="events the indexer could not apply: list the stuck streams, retry them"
                       ).add_subparsers(dest="action", required=True)
    ls = e.add_parser("list-stuck", help="streams stopped at a parked event (dead letter); exit 1 when any")
    ls.add_argument("--json", action="store_true", help="print the dead letters as JSON")
    ls.add_argument("--data")
    ls.set_defaults(fn=cmd_list_stuck)
    rt = e.add_parser("retry", help="try the parked events again now (every stuck stream, or STREAM)")
    rt.add_argument("stream", nargs="?", default=None, help="the stream (owner namespace) to retry")
    rt.add_argument("--data")
    rt.set_defaults(fn=cmd_retry)
