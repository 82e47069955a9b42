"""Subcommands that read and change memories: add, search, list, get, update,
history, delete, restore."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, datetime
from typing import Any

from memplane.cli.output import (
    format_event,
    format_history,
    format_hit,
    format_record,
    print_json,
    print_lines,
)
from memplane.cli.session import (
    open_memory,
    parse_json_option,
    parse_metadata,
    parse_time,
    read_conversation,
    read_stdin_text,
    scope_kwargs,
    scope_of,
)
from memplane.errors import ValidationError


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "add", parents=[common], help="remember what a message says",
        description="Add messages to memory. With inference (the default) the LLM decides "
        "what to ADD, UPDATE, DELETE or leave alone (NONE); --no-infer stores the text as is.",
    )
    p.add_argument("text", nargs="*", help="message text; '-' reads it from stdin")
    p.add_argument("--file", metavar="FILE",
                   help="a whole conversation: a JSON list of {role, content} messages, or an "
                   "object with a 'messages' list ('-' reads stdin); a message may carry its own "
                   "'metadata' (merged over --metadata) and 'observed_at' (ISO 8601)")
    p.add_argument("--role", default="user", choices=["user", "assistant"],
                   help="who said it (default: user)")
    p.add_argument("--metadata", metavar="JSON", help='metadata object, e.g. \'{"topic": "food"}\'')
    p.add_argument("--meta", metavar="KEY=VALUE", action="append",
                   help="one metadata entry (repeatable; VALUE is parsed as JSON when it is JSON)")
    p.add_argument("--no-infer", action="store_true",
                   help="store the text verbatim as one memory, without the LLM")
    p.add_argument("--observed-at", metavar="TIME",
                   help="when it was said (ISO 8601), for backfilling old conversations")
    p.add_argument("--expires-at", metavar="TIME",
                   help="hide the memory after this time (ISO 8601)")
    p.set_defaults(func=cmd_add)

    p = subparsers.add_parser("search", parents=[common], help="find relevant memories",
                              description="Search the scope's memories, best first, with scores in [0, 1].")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10, help="most results to return (default: 10)")
    p.add_argument("--threshold", type=float, help="drop results scoring below this (0..1)")
    p.add_argument("--filter", metavar="JSON", help='metadata filter, e.g. \'{"stars": {"gte": 3}}\'')
    p.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                   help="rerank with the configured reranker (default: as configured)")
    p.add_argument("--explain", action="store_true", help="show each retrieval signal's score")
    p.add_argument("--include-expired", action="store_true", help="also find expired memories")
    p.add_argument("--as-of", metavar="TIME",
                   help="search as of this time (ISO 8601): memories observed later are not "
                   "found, recency counts back from it")
    p.add_argument("--max-age-days", type=float, metavar="DAYS",
                   help="only memories observed within DAYS before --as-of (else now)")
    p.set_defaults(func=cmd_search)

    p = subparsers.add_parser("list", parents=[common], help="list the scope's memories",
                              description="List memories page by page (newest last).")
    p.add_argument("--limit", type=int, default=100, help="page size (default: 100)")
    p.add_argument("--cursor", help="continue from a previous page's next cursor")
    p.add_argument("--all", action="store_true", help="follow cursors and list every page")
    p.add_argument("--filter", metavar="JSON", help="metadata filter (see `memplane search`)")
    _visibility_options(p)
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("get", parents=[common], help="show one memory")
    p.add_argument("id")
    _visibility_options(p)
    p.set_defaults(func=cmd_get)

    p = subparsers.add_parser("update", parents=[common], help="replace a memory's text",
                              description="Replace a memory's text; the old text stays in its history.")
    p.add_argument("id")
    p.add_argument("text")
    p.add_argument("--metadata", metavar="JSON", help="metadata entries to merge into the memory's")
    p.add_argument("--meta", metavar="KEY=VALUE", action="append",
                   help="one metadata entry to merge (repeatable)")
    p.set_defaults(func=cmd_update)

    p = subparsers.add_parser("history", parents=[common], help="show how a memory changed")
    p.add_argument("id")
    p.set_defaults(func=cmd_history)

    p = subparsers.add_parser("delete", parents=[common], help="soft-delete a memory (restorable)")
    p.add_argument("id")
    p.set_defaults(func=cmd_delete)

    p = subparsers.add_parser("restore", parents=[common], help="undo the deletion of a memory")
    p.add_argument("id")
    p.set_defaults(func=cmd_restore)


def _visibility_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include-deleted", action="store_true",
                        help="also show soft-deleted memories")
    parser.add_argument("--include-expired", action="store_true",
                        help="also show memories past their expiry")


def _message_text(parts: list[str]) -> str:
    text = read_stdin_text() if parts == ["-"] else " ".join(parts)
    if not text.strip():
        raise ValidationError("nothing to add: the message text is empty")
    return text


def _messages(args: argparse.Namespace) -> list[Any]:
    if args.file is None:
        if not args.text:
            raise ValidationError("nothing to add: give the message text, or --file with a conversation")
        return [{"role": args.role, "content": _message_text(args.text)}]
    if args.text:
        raise ValidationError("give the message text or --file, not both")
    return [_with_time(m, i) for i, m in enumerate(read_conversation(args.file))]


def _with_time(message: Any, index: int) -> Any:
    """A file message with its ISO 8601 ``observed_at`` parsed (Memory.add checks the rest)."""
    if isinstance(message, dict) and isinstance(message.get("observed_at"), str):
        return {**message, "observed_at": parse_time(message["observed_at"], f"message {index} observed_at")}
    return message


def _expiry(args: argparse.Namespace) -> datetime | None:
    expires_at = parse_time(args.expires_at, "--expires-at")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        sys.stderr.write(f"warning: --expires-at {args.expires_at} is in the past: the memory is "
                         "stored but hidden at once (see it with list --include-expired)\n")
    return expires_at


def cmd_add(args: argparse.Namespace) -> int:
    scope = scope_of(args, "add")
    messages = _messages(args)
    metadata = parse_metadata(args.meta, args.metadata)
    expires_at = _expiry(args)
    with open_memory(args) as memory:
        result = memory.add(
            messages,
            **scope_kwargs(scope),
            metadata=metadata or None,
            infer=not args.no_infer,
            observed_at=parse_time(args.observed_at, "--observed-at"),
            expires_at=expires_at,
        )
    if args.json:
        print_json(result)
        return 0
    lines = [format_event(e) for e in result.events] or ["(no change)"]
    lines += [f"note: {d.code}: {d.message}" for d in result.diagnostics]
    print_lines(lines)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    scope = scope_of(args, "search")
    options: dict[str, Any] = {"limit": args.limit, "explain": args.explain,
                               "include_expired": args.include_expired}
    if args.threshold is not None:
        options["threshold"] = args.threshold
    if args.rerank is not None:
        options["rerank"] = args.rerank
    if args.as_of is not None:
        options["as_of"] = parse_time(args.as_of, "--as-of")
    if args.max_age_days is not None:
        options["max_age_days"] = args.max_age_days
    filters = parse_json_option(args.filter, "--filter")
    with open_memory(args) as memory:
        hits = memory.search(args.query, **scope_kwargs(scope), filters=filters, **options)
    if args.json:
        print_json(hits)
    else:
        print_lines([format_hit(h) for h in hits] or ["(no matches)"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    scope = scope_of(args, "list")
    filters = parse_json_option(args.filter, "--filter")
    records = []
    cursor = args.cursor
    with open_memory(args) as memory:
        while True:
            page = memory.get_all(**scope_kwargs(scope), filters=filters, limit=args.limit,
                                  cursor=cursor, include_deleted=args.include_deleted,
                                  include_expired=args.include_expired)
            records.extend(page.records)
            cursor = page.next_cursor
            if not args.all or cursor is None:
                break
    if args.json:
        print_json({"records": records, "next_cursor": cursor})
        return 0
    lines = [format_record(r) for r in records] or ["(no memories)"]
    if cursor is not None:
        flags = " ".join(f"--{k.removesuffix('_id')} {shlex.quote(v)}" for k, v in scope.items())
        lines.append(f"more: memplane {flags} list --limit {args.limit} --cursor {cursor}")
    print_lines(lines)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    scope = scope_of(args, "get")
    with open_memory(args) as memory:
        record = memory.get(args.id, **scope_kwargs(scope), include_deleted=args.include_deleted,
                            include_expired=args.include_expired)
    if args.json:
        print_json(record)
    else:
        print_lines([format_record(record, verbose=True)])
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    scope = scope_of(args, "update")
    with open_memory(args) as memory:
        metadata = parse_metadata(args.meta, args.metadata)
        event = memory.update(args.id, args.text, **scope_kwargs(scope), metadata=metadata or None)
    _print_event(args, event)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    scope = scope_of(args, "history")
    with open_memory(args) as memory:
        entries = memory.history(args.id, **scope_kwargs(scope))
    if args.json:
        print_json(entries)
    else:
        print_lines([format_history(e) for e in entries] or ["(no history)"])
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    scope = scope_of(args, "delete")
    with open_memory(args) as memory:
        event = memory.delete(args.id, **scope_kwargs(scope))
    _print_event(args, event)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    scope = scope_of(args, "restore")
    with open_memory(args) as memory:
        event = memory.restore(args.id, **scope_kwargs(scope))
    _print_event(args, event)
    return 0


def _print_event(args: argparse.Namespace, event: Any) -> None:
    """update/delete/restore return an event or a record, depending on the call."""
    from memplane.models import MemoryEvent, MemoryRecord

    if args.json:
        print_json(event)
    elif isinstance(event, MemoryEvent):
        print_lines([format_event(event)])
    elif isinstance(event, MemoryRecord):
        print_lines([format_record(event)])
    else:
        print_lines([f"{args.command}: {args.id}"])
