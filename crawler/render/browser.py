"""The system Chromium: where it is, how it is launched, what it may load, how much memory it holds.

The browser comes from the system's packages (Debian's ``chromium``), never
from ``playwright install``, which downloads builds from outside (and fails
on machines that reach only package registries).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

#: Names a system Chromium goes by, in the order they are looked for on PATH.
#: Looked for on PATH in this order. Chromium's headless shell (Debian's
#: ``chromium-headless-shell``, the same engine without the desktop browser's UI
#: code) comes first: over the benchmark corpus's shells, 18 renders two at a time,
#: it gave the same 18 records as ``chromium`` with 4.5 instead of 9.2 CPU-s in the
#: browser and 366 instead of 540 MB of peak RSS (338 instead of 507 MB PSS).
BROWSER_NAMES = (
    "chromium-headless-shell",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)

#: Resource types the browser does not download: a page's text needs none of them.
#: "other" is mostly ``<link rel=prefetch>`` and icons: one shell of the benchmark
#: corpus asked for 125 prefetched chunks, over half of all its requests.
BLOCKED_RESOURCE_TYPES = frozenset(
    {"image", "media", "font", "texttrack", "manifest", "ping", "cspviolationreport", "other"}
)
#: Resource types answered at once with an empty body of this type instead of being
#: fetched: the text needs no style sheet, but an app that loads a sheet with a script
#: waits for its ``load`` event (an aborted sheet fires ``error`` and fails that chunk).
EMPTY_RESOURCE_TYPES = {"stylesheet": "text/css"}


def find_browser(configured: str | None) -> str | None:
    """The browser executable: ``RENDER_BROWSER_PATH`` when given, else the first on PATH.

    Returns None when the configured path is not an executable file or
    nothing was found.
    """
    if configured:
        path = os.path.expanduser(configured)
        found = path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        return found or shutil.which(configured)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


#: Flags that run the browser in fewer processes. Measured on the benchmark corpus's
#: shells, two pages at a time (Chromium 156): 12 processes at peak and 1,379 MB of
#: summed RSS before, 5 and 947 MB with these but ``--single-process``, for the same
#: PSS and less CPU, and one process with it. The
#: browser holds nothing to protect (a fresh context per run, no profile, no sandbox
#: already), so the isolation these processes give buys nothing here.
LEAN_ARGS = (
    # the renderer, GPU and network code run as threads of the browser process: measured
    # over 18 renders of the corpus shells, two at a time, 885 MB of summed RSS in 5
    # processes (PSS 485) before, 409 MB in one (PSS 325) with it, and less CPU;
    # Playwright's one context and its pages work in it (tests/test_render_crawl.py)
    "--single-process",
    # cross-site iframes (ads, embeds) share their page's renderer
    "--disable-site-isolation-trials",
    # the GPU (software compositing with --disable-gpu) runs as a thread of the browser
    "--in-process-gpu",
    # no zygote processes to fork renderers from (requires --no-sandbox)
    "--no-zygote",
    # composite in software, without SwiftShader's emulated GL (less CPU per frame)
    "--disable-gpu-compositing",
    "--disable-software-rasterizer",
    # the network service runs in the browser process, not a utility process; the
    # other two are the ones Playwright enables itself (this flag replaces its list)
    "--enable-features=NetworkServiceInProcess2,CDPScreenshotNewSurface,"
    "SkipListAccountsWithoutGaiaCookies",
)


def launch_args(proxy_port: int) -> list[str]:
    """Chromium's command-line flags: headless, quiet, and with the guarded proxy as only exit."""
    return [
        "--headless",
        # as root (containers, CI) the sandbox refuses to start
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # QUIC is UDP: it would not go through an HTTP proxy
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        # without these Chromium phones home at every start (updates, sync, field trials)
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--metrics-recording-only",
        # every connection goes through the proxy that applies the address guard;
        # "<-loopback>" removes Chromium's implicit bypass of localhost
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>",
        # WebRTC would otherwise open UDP connections around the proxy
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        *LEAN_ARGS,
    ]


def abort_request(request: Any) -> bool:
    """Whether the browser should not load this request at all (its type is never needed)."""
    return str(getattr(request, "resource_type", "")) in BLOCKED_RESOURCE_TYPES


async def route_request(route: Any, request: Any) -> None:
    """The page's first route: abort or answer what the text never needs, pass on the rest.

    Registered after scrapy-playwright's own route, so Playwright calls it
    first; ``fallback`` hands every other request to scrapy-playwright's
    handler, which lets it go out through the guarded proxy. A request
    answered here opens no connection at all.
    """
    kind = str(getattr(request, "resource_type", ""))
    if kind in BLOCKED_RESOURCE_TYPES:
        await route.abort("blockedbyclient")
    elif kind in EMPTY_RESOURCE_TYPES:
        await route.fulfill(status=200, content_type=EMPTY_RESOURCE_TYPES[kind], body="")
    else:
        await route.fallback()


#: Runs in every document before its own scripts: counts the one-shot timers of at
#: most :data:`TRACKED_TIMER_MS` that are still to fire (``window.__sourcesTimers``),
#: so that the render knows whether an empty page may still be filled by one. The
#: page's own calls behave as before (same return values, same ``this``, arguments).
TRACKED_TIMER_MS = 5000
TIMER_TRACKER = (
    """(() => {
  if (window.__sourcesTimers !== undefined) return;
  const pending = new Set();
  const set = window.setTimeout, clear = window.clearTimeout;
  window.setTimeout = function (handler, delay, ...args) {
    if (typeof handler !== "function" || (Number(delay) || 0) > LIMIT) {
      return set.call(window, handler, delay, ...args);
    }
    const id = set.call(window, function () {
      pending.delete(id);
      return handler.apply(this, args);
    }, delay);
    pending.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    pending.delete(id);
    return clear.call(window, id);
  };
  Object.defineProperty(window, "__sourcesTimers", {get: () => pending.size});
})();"""
).replace("LIMIT", str(TRACKED_TIMER_MS))


async def init_page(page: Any, request: Any) -> None:
    """``playwright_page_init_callback``: install :func:`route_request` and the timer count."""
    await page.route("**/*", route_request)
    await page.add_init_script(TIMER_TRACKER)


def browser_tree_memory(proxy_port: int, *, proportional: bool = True) -> int:
    """Memory (bytes) the browser launched with our proxy flag and its children hold.

    The browser's main process is the descendant of this process whose
    command line names our proxy's port; its renderer, GPU and utility
    processes are its descendants. With ``proportional``, each counts with
    its proportional set size (PSS: shared pages divided among the processes
    sharing them), as the plain sum of resident sizes counts Chromium's
    shared libraries and memory once per process (1,170 MB of RSS for 420 MB
    of PSS with two pages open). Without it, the plain sum of resident sizes:
    an upper bound of the PSS that costs about 0.1 ms to read where the PSS
    costs over 20 ms (the kernel walks every mapping of every process).
    0 when no such browser runs or psutil is missing.
    """
    try:
        import psutil
    except ImportError:  # psutil comes with the render extra
        return 0
    total = 0
    for tree in _browser_trees(proxy_port):
        for member in tree:
            try:
                total += member.memory_full_info().pss if proportional else member.memory_info().rss
            except psutil.Error:
                continue  # exited meanwhile
            except AttributeError:  # no PSS on this system
                total += member.memory_info().rss
    return total


def _browser_trees(proxy_port: int) -> list[list[Any]]:
    """Each browser this process launched with our proxy flag, with its children (browser first)."""
    import psutil

    flag = f"--proxy-server=http://127.0.0.1:{proxy_port}"
    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    trees = []
    for proc in descendants:
        try:
            if flag in proc.cmdline():
                trees.append([proc, *proc.children(recursive=True)])
        except psutil.Error:
            continue
    return trees


def kill_browser_tree(proxy_port: int) -> int:
    """Kill the browser launched with our proxy flag and its children; return how many processes."""
    try:
        import psutil
    except ImportError:
        return 0
    killed = 0
    for browser, *children in _browser_trees(proxy_port):
        for member in [*children, browser]:  # children first, then the browser
            try:
                member.kill()
                killed += 1
            except psutil.Error:
                continue
    return killed
