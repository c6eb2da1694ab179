"""Live notices to open consoles as server-sent events, from a process of their own
(``gridgov stream``).

A console holds its stream open all day. Under the web server's threads every open console
would hold a thread, so 900 consoles would stop the platform; here they are idle sockets in one
asyncio loop. One query a second (``STREAM_POLL_SECONDS``) finds new notices for everyone, and
each goes to the consoles whose person it concerns.

A console authenticates with a ticket from ``/console/notifications/ticket``, signed by the
platform: it names the person's addresses and expires (``STREAM_TICKET_SECONDS``); no cookie
crosses. A console that reconnects sends ``Last-Event-ID`` and gets what it missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections

from gridgov.accounts import notifications
from gridgov.events import notices as texts

log = logging.getLogger(__name__)

HEAD_LIMIT = 8192
HEAD_TIMEOUT = 10.0
PING_SECONDS = 20.0
LAST_ID = re.compile(r"[0-9]{1,18}")
QUEUE = 200  # notices a slow console may fall behind by before it is dropped (it reconnects)
T = TypeVar("T")


def event_text(n: Any) -> str:
    data = {k: v for k, v in texts.item(n).items() if k != "unread"}
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    return f"id: {n.pk}\nevent: notice\ndata: {body}\n\n"


@dataclass(eq=False)
class Console:
    user: int
    addresses: frozenset[str]
    opened: float = field(default_factory=time.monotonic)
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    dropped: bool = False

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped = True  # too slow: closed, and it catches up by Last-Event-ID

    def drop(self) -> None:
        """Closed by the server: the person's access changed, or they opened too many."""
        self.dropped = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait("")  # wakes the pump, which then stops


class Hub:
    """The open consoles, and the one poller that feeds them."""

    def __init__(self) -> None:
        self.consoles: set[Console] = set()
        self.last = 0
        self.db = ThreadPoolExecutor(1, thread_name_prefix="stream-db")  # one connection

    async def run_db(self, fn: Callable[[], T]) -> T:
        def call() -> T:
            close_old_connections()
            return fn()

        return await asyncio.get_running_loop().run_in_executor(self.db, call)

    async def poll_forever(self, stop: asyncio.Event) -> None:
        self.last = await self.run_db(notifications.latest_notice_id)
        checked = time.monotonic()
        while not stop.is_set():
            try:
                await self.poll_once()
                if time.monotonic() - checked >= settings.STREAM_RECHECK_SECONDS:
                    checked = time.monotonic()
                    await self.recheck()
            except Exception:  # the database restarting: keep serving, try again
                log.exception("stream poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.STREAM_POLL_SECONDS)

    async def still_allowed(self, user: int, addresses: frozenset[str]) -> bool:
        now = await self.run_db(lambda: notifications.current_addresses([user]))
        return frozenset(now.get(user, ())) == addresses

    async def recheck(self) -> int:
        """Close the streams of people deactivated or moved since their ticket was made."""
        judged = list(self.consoles)  # consoles opened during the query were checked on opening
        ids = sorted({c.user for c in judged})
        if not ids:
            return 0
        now = await self.run_db(lambda: notifications.current_addresses(ids))
        stale = [c for c in judged if frozenset(now.get(c.user, ())) != c.addresses]
        for console in stale:
            console.drop()
        return len(stale)

    def admit(self, console: Console) -> None:
        """One more console; a person's oldest beyond STREAM_PER_USER is closed, so one ticket
        cannot take every place."""
        mine = sorted((c for c in self.consoles if c.user == console.user), key=lambda c: c.opened)
        for old in mine[: max(0, len(mine) - settings.STREAM_PER_USER + 1)]:
            old.drop()
            self.consoles.discard(old)
        self.consoles.add(console)

    async def poll_once(self) -> int:
        if not self.consoles:
            self.last = await self.run_db(notifications.latest_notice_id)
            return 0
        after = self.last
        rows = await self.run_db(lambda: notifications.notices_after(after))
        for n in rows:
            text = event_text(n)
            for console in self.consoles:
                if n.recipient in console.addresses:
                    console.offer(text)
            self.last = max(self.last, n.pk)
        return len(rows)


def _response(status: str, body: str = "", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body.encode())}\r\nConnection: close\r\n{extra}\r\n{body}"
    ).encode()


async def _head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        return None
    line, *rest = raw.decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for item in rest:
        name, sep, value = item.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], headers


class Server:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _head(reader)
            if head is None:
                writer.write(_response("400 Bad Request", "bad request"))
            else:
                await self._route(*head, reader, writer)
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _route(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        if method != "GET":
            writer.write(_response("405 Method Not Allowed", "GET only", "Allow: GET\r\n"))
        elif url.path == "/health":
            writer.write(_response("200 OK", f"ok {len(self.hub.consoles)}"))
        elif url.path != "/stream":
            writer.write(_response("404 Not Found", "not found"))
        else:
            found = notifications.read_ticket((parse_qs(url.query).get("ticket") or [""])[0])
            console = Console(int(found["u"]), frozenset(found["a"])) if found else None
            if console is None or not await self.hub.still_allowed(console.user, console.addresses):
                writer.write(_response("401 Unauthorized", "ticket missing, wrong or expired"))
            elif len(self.hub.consoles) >= settings.STREAM_MAX_CONSOLES:
                writer.write(_response("503 Service Unavailable", "full", "Retry-After: 30\r\n"))
            else:
                resume = headers.get("last-event-id", "")
                try:
                    last_id = int(resume) if LAST_ID.fullmatch(resume) else 0
                    await self._open(console, last_id, writer)
                    await self._pump(console, reader, writer)
                finally:
                    self.hub.consoles.discard(console)

    async def _open(self, console: Console, resume: int, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
            b"Access-Control-Allow-Origin: *\r\nConnection: keep-alive\r\n\r\nretry: 3000\n\n"
        )
        self.hub.admit(console)
        if resume and resume < self.hub.last:
            last, addresses = self.hub.last, sorted(console.addresses)
            missed = await self.hub.run_db(lambda: notifications.notices_for(addresses, resume))
            for n in missed:
                if n.pk <= last:  # newer ones come from the poller
                    writer.write(event_text(n).encode())
        await writer.drain()

    async def _pump(
        self, console: Console, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Notices (a ping when idle) until the console hangs up or falls too far behind."""
        hung_up = asyncio.create_task(_hang_up(reader))
        try:
            while not console.dropped and not hung_up.done():
                nxt = asyncio.create_task(console.queue.get())
                done, _ = await asyncio.wait(
                    {nxt, hung_up}, timeout=PING_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if nxt in done:
                    text = nxt.result()
                    if console.dropped:
                        break
                else:
                    nxt.cancel()
                    if hung_up.done():
                        break
                    text = ": ping\n\n"  # keeps proxies from closing an idle stream
                writer.write(text.encode())
                await writer.drain()
        finally:
            hung_up.cancel()


async def _hang_up(reader: asyncio.StreamReader) -> None:
    """Returns when the console closes its side (it sends nothing after its request)."""
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(1024):
            pass


async def serve(
    host: str, port: int, ready: Callable[[int], Awaitable[None]] | None = None
) -> None:
    """Serve until SIGTERM or SIGINT (or the task is cancelled)."""
    hub, stop = Hub(), asyncio.Event()
    server = await asyncio.start_server(Server(hub).handle, host, port, limit=HEAD_LIMIT)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # not in a thread (tests)
    poller = asyncio.create_task(hub.poll_forever(stop))
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        await ready(bound)
    try:
        async with server:
            await stop.wait()
    finally:
        stop.set()
        poller.cancel()
        server.close()
        hub.db.shutdown(wait=False)
