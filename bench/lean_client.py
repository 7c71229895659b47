"""A lean HTTP/1.1 load client on raw asyncio streams, so that a figure measures the server.

One :class:`Connection` per simulated client (concurrency = number of connections), kept
alive between requests.  When the server has closed an idle keep-alive connection (uvicorn
does after 5 s), the request is sent again on a new connection, but only when the server sent
no byte of an answer: the request was not read, so nothing is done twice.  (httpx's pool
reused such connections and raised ``ReadError`` in ``bench_submit.py``.)

Bodies are JSON, answers are read by ``Content-Length`` or chunked; nothing else of HTTP is
needed for loopback benchmarks.  Parsing costs a few microseconds per request, against about
half a millisecond for httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ConnectionClosedError(Exception):
    """The server closed the connection before answering (nothing of an answer was read)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Connection:
    """One keep-alive connection to ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._host_header = f"{self.host}:{self.port}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        if body is not None:
            head.append(b"Content-Type: application/json")
        if body is not None or method in ("POST", "PUT"):
            head.append(b"Content-Length: " + str(len(payload)).encode())
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}".encode())
        message = b"\r\n".join(head) + b"\r\n\r\n" + payload
        for attempt in range(3):
            fresh = self._writer is None or self._reader is None or self._reader.at_eof()
            if fresh:
                await self.close()
                reader, writer = await self._open()
            else:
                assert self._reader is not None and self._writer is not None
                reader, writer = self._reader, self._writer
            try:
                writer.write(message)
                await writer.drain()
                return await self._read_answer(reader, method)
            except (ConnectionClosedError, ConnectionResetError, BrokenPipeError):
                await self.close()
                if fresh and attempt:  # a new connection closed at once: the server is gone
                    raise
                self.reconnects += 1
        raise ConnectionClosedError("the server kept closing the connection")

    async def _read_answer(self, reader: asyncio.StreamReader, method: str) -> Answer:
        try:
            status_line = await reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise ConnectionClosedError from None
            raise
        status = int(status_line.split(b" ", 2)[1])
        raw_head = await reader.readuntil(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in raw_head[:-4].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        else:
            body = await reader.read()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, body)


async def timed(
    connection: Connection,
    method: str,
    path: str,
    body: object | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[Answer, float]:
    """An answer and the seconds it took."""
    started = time.perf_counter()
    answer = await connection.request(method, path, body, headers)
    return answer, time.perf_counter() - started
