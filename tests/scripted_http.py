"""A scripted raw HTTP server on 127.0.0.1 for the transport tests: exact bytes on the wire."""

from __future__ import annotations

import asyncio


class ScriptedServer:
    """Reads each request whole, records it, and writes what ``answer(request)`` returns:
    a list of byte pieces (sent with a short pause between them) and whether to close after."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list[dict] = []
        self.connections = 0

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc) -> None:
        await asyncio.sleep(0.05)  # let the handlers see their connections close
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = {"line": lines[0], "headers": headers, "body": body, "connection": connection}
                self.requests.append(request)
                pieces, close = self.answer(request)
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _ok(body: bytes, *extra: str) -> bytes:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + "".join(f"{h}\r\n" for h in extra)
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _run(coro):
    return asyncio.run(coro)


def one_after_another(pool_class, answer, count: int, base_suffix: str = "", path: str = "x") -> tuple[ScriptedServer, list]:
    """``count`` requests in turn through one ``pool_class`` pool, to a server that answers with ``answer``."""
    server = ScriptedServer(answer)

    async def scenario():
        async with server as url:
            pool = pool_class(url + base_suffix, {}, 5.0, 2)
            answers = [await pool.request("POST", path, b"{}") for _ in range(count)]
            await pool.aclose()
        return answers

    return server, _run(scenario())
