"""Serve a directory of saved pages on 127.0.0.1 under any number of URLs, with latency.

``python bench/pageserver.py PAGES_DIR --latency 0.05`` prints ``PORT <n>`` once
listening. ``/p/<i>.html`` answers page ``i mod len(pages)`` (sorted names;
``*.html`` or ``*.html.gz``, decompressed once at start) after ``latency``
seconds; ``/robots.txt`` and anything else is a 404. aiohttp keeps the server
far from being the bottleneck: it only sleeps and copies bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from pathlib import Path

from aiohttp import web


def load_pages(directory: Path) -> list[bytes]:
    """Bodies of every ``*.html`` / ``*.html.gz`` in ``directory``, in name order."""
    pages = []
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
        elif path.name.endswith(".html"):
            pages.append(path.read_bytes())
    if not pages:
        raise SystemExit(f"no *.html or *.html.gz files in {directory}")
    return pages


def make_app(pages: list[bytes], latency: float) -> web.Application:
    """The aiohttp application serving ``pages``."""

    async def page(request: web.Request) -> web.StreamResponse:
        try:
            index = int(request.match_info["index"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if latency > 0:
            await asyncio.sleep(latency)
        # No charset: the pages are real saved pages whose original headers we
        # do not have; clients find the encoding in the markup, as browsers do.
        return web.Response(body=pages[index % len(pages)], content_type="text/html")

    app = web.Application()
    app.router.add_get("/p/{index}.html", page)
    return app


async def serve(pages: list[bytes], latency: float, port: int) -> None:
    """Listen on 127.0.0.1 until killed; announce the port on stdout."""
    runner = web.AppRunner(make_app(pages, latency), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    print(f"PORT {sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pages", type=Path)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    pages = load_pages(args.pages)
    print(f"PAGES {len(pages)} {sum(map(len, pages))}", file=sys.stderr, flush=True)
    asyncio.run(serve(pages, args.latency, args.port))


if __name__ == "__main__":
    main()
