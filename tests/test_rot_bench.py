"""A small loopback benchmark of reference rot: many origins, many templates, two nights.

Not the sites of ``test_rot_crawl.py``: other templates, eleven languages of
not-found pages, sites that serve their home page or rotating suggestions at
unknown paths, several redirect targets, parking landers and expired-domain
pages, sign-in redirects, lively catch-all sites (one with one title for
every page), and pages replaced between the nights. It prints the figures
(``pytest -s``) and checks the verdicts: every rotten source gets its kind,
no live page is called rotten, at most one extra request per origin.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_crawl
from tests.test_rot_sites import (
    PARKING_PAGE,
    Answer,
    FakeArchive,
    Site,
    article_text,
    not_found,
    ok,
    page,
    redirect,
)

NOT_FOUND_MESSAGES = {
    "en": ("Page not found", "We could not find the page you were looking for."),
    "de": ("Seite nicht gefunden", "Die angeforderte Seite existiert leider nicht."),
    "fr": ("Page introuvable", "Désolé, la page que vous cherchez n'existe pas."),
    "es": ("Página no encontrada", "Lo sentimos, la página que busca no existe."),
    "it": ("Pagina non trovata", "La pagina richiesta non esiste o è stata spostata."),
    "pt": ("Página não encontrada", "A página que você procura não existe."),
    "nl": ("Pagina niet gevonden", "Deze pagina bestaat niet (meer)."),
    "ru": ("Страница не найдена", "Запрашиваемая страница не существует."),
    "ja": ("ページが見つかりません", "お探しのページは存在しません。"),
    "zh": ("页面不存在", "抱歉\uff0c您访问的页面不存在。"),
    "pl": ("Nie znaleziono strony", "Strona, której szukasz, nie istnieje."),
}


def _slug(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _articles(prefix: str, slugs: dict[str, str]) -> Callable[[Site, str], Answer | None]:
    def serve(site: Site, path: str) -> Answer | None:
        if path.startswith(prefix) and _slug(path) in slugs:
            return ok(page(site.name, slugs[_slug(path)], article_text(site.name + path)))
        return None

    return serve


def build_sites(rng: random.Random) -> list[tuple[Site, list[tuple[str, str, str | None]]]]:
    """Sites and their sources: (path, expected status, expected error)."""
    out: list[tuple[Site, list[tuple[str, str, str | None]]]] = []

    def slugs(n: int) -> dict[str, str]:
        return {f"story-{rng.randint(1000, 9999)}": f"Story {i} of the week" for i in range(n)}

    def add(name: str, handler: Any, sources: list[tuple[str, str, str | None]]) -> None:
        out.append((Site(name, handler), sources))

    # Real 404s.
    for i in range(6):
        s = slugs(3)
        serve = _articles("/news/", s)
        add(
            f"Gazette {i}",
            lambda site, path, q, serve=serve: serve(site, path) or not_found(site.name),
            [*((f"/news/{k}", "ok", None) for k in s), ("/news/deleted-item", "dead", "http_404")],
        )
    # Soft 404s saying so, in eleven languages.
    for lang, (title, message) in NOT_FOUND_MESSAGES.items():
        s = slugs(2)
        serve = _articles("/p/", s)

        def soft(
            site: Site,
            path: str,
            q: Any,
            serve: Any = serve,
            t: str = title,
            m: str = message,
            lang: str = lang,
        ) -> Answer:
            return serve(site, path) or ok(page(site.name, t, [m], lang=lang))

        add(
            f"Site {lang}",
            soft,
            [*((f"/p/{k}", "ok", None) for k in s), ("/p/gone", "dead", "soft_404")],
        )
    # Soft 404s without a word about it: a listing; the home page; rotating suggestions.
    for i in range(3):
        s = slugs(3)
        serve = _articles("/articles/", s)
        home = ok(page(f"Portal {i}", "Welcome", article_text(f"home{i}", 4)))

        def silent(
            site: Site,
            path: str,
            q: Any,
            serve: Any = serve,
            i: int = i,
            home: Answer = home,
            titles: tuple[str, ...] = tuple(s.values()),
        ) -> Answer:
            found = serve(site, path)
            if found:
                return found
            if path == "/" or i == 1:
                return home  # the home page, served at every unknown path
            if i == 2:
                picks = random.sample([*sorted(titles), "Budget", "Trams", "Harbour"], 3)
                # a fixed invitation, and suggestions drawn anew at each request
                return ok(
                    page(
                        site.name,
                        "Discover",
                        [
                            "Explore the stories our readers liked most this week, picked by the "
                            "editors from transport, housing, climate and the city budget.",
                            "You might like: " + ", ".join(picks),
                        ],
                    )
                )
            return ok(
                page(site.name, "Our latest coverage", ["Transport, housing and climate news."])
            )

        add(
            f"Portal {i}",
            silent,
            [
                *((f"/articles/{k}", "ok", None) for k in s),
                ("/articles/vanished-1", "dead", "soft_404"),
                ("/articles/2019/vanished-2", "dead", "soft_404"),
            ],
        )
    # Deep URLs sent home.
    for i, target in enumerate(("/", "/index.html", "/home", "/fr/")):
        s = slugs(2)
        serve = _articles("/doc/", s)

        def homing(
            site: Site, path: str, q: Any, serve: Any = serve, target: str = target
        ) -> Answer:
            if path == target:
                return ok(page(site.name, "Home", article_text(site.name + "home", 3)))
            return serve(site, path) or redirect(target, 301 if target == "/" else 302)

        add(
            f"Homing {i}",
            homing,
            [
                *((f"/doc/{k}", "ok", None) for k in s),
                ("/doc/old-report.pdf", "dead", "redirected_home"),
                (target, "ok", None),
            ],
        )
    # Parked and expired domains.
    landers = [
        PARKING_PAGE % (b"a.org", b"a.org", b"a.org"),
        b'<html><head><title>b.net</title><script src="//www.sedoparking.com/frmpark/x.js">'
        b"</script></head><body><h1>b.net</h1></body></html>",
        b"<html><head><title>c.info - Buy this domain</title></head><body><p>The domain c.info"
        b" is for sale. Make an offer today.</p></body></html>",
        b"<html><head><title>d.com has expired</title></head><body><p>This domain has expired."
        b" If you are the owner, renew it now.</p></body></html>",
    ]
    for i, lander in enumerate(landers):
        add(
            f"Parked {i}",
            lambda site, path, q, lander=lander: ok(lander),
            [("/", "dead", "parked_domain"), ("/blog/2016/notes.html", "dead", "parked_domain")],
        )
    # Sign-in walls.
    for i, login in enumerate(("/account/login", "/wp-login.php")):
        s = slugs(2)
        serve = _articles("/pub/", s)

        def walled(site: Site, path: str, q: Any, serve: Any = serve, login: str = login) -> Answer:
            if path == login:
                return ok(
                    b"<html><head><title>Members</title></head><body><form>"
                    b'<input name="u"><input type="password" name="p"></form></body></html>'
                )
            if path.startswith("/members/"):
                return redirect(f"{login}?redirect_to={path}")
            return serve(site, path) or not_found(site.name)

        add(
            f"Walled {i}",
            walled,
            [
                *((f"/pub/{k}", "ok", None) for k in s),
                ("/members/report-2020", "paywall", "login_wall"),
            ],
        )
    # Lively catch-all sites: every path is an article; one keeps one title for all pages.
    for i in range(5):

        def lively(site: Site, path: str, q: Any, i: int = i) -> Answer:
            title = (
                "Knowledge base" if i == 0 else path.rsplit("/", 1)[-1].replace("-", " ").title()
            )
            return ok(page(site.name, title, article_text(site.name + path, 2 + i)))

        add(f"Lively {i}", lively, [(f"/kb/topic-{n}", "ok", None) for n in range(4)])
    return out


def test_rot_benchmark(tmp_path: Path) -> None:
    rng = random.Random(18)
    built = build_sites(rng)
    sites = [site.__enter__() for site, _ in built]
    try:
        with FakeArchive({}) as archive:
            entries, expected = [], {}
            for site, sources in built:
                for path, status, error in sources:
                    url = site.url(path)
                    entries.append({"url": url})
                    expected[url] = (status, error)
            listing = tmp_path / "sources.json"
            listing.write_text(json.dumps(entries), encoding="utf-8")
            figures = []
            for night in (1, 2):
                for site in sites:
                    site.hits.clear()
                result = run_crawl(
                    listing,
                    tmp_path / "out" / f"night{night}.jsonl",
                    timeout=300,
                    ARCHIVE_CDX_URL=archive.url("/cdx"),
                    ARCHIVE_REPLAY_URL=archive.url("/web/"),
                    # generated pages have no authors: the coverage alarm is not the point here
                    ALARM_MIN_RECORDS="1000000",
                )
                assert result.exit_code == 0, result.log[-3000:]
                got = {r["url"]: (r["status"], r["error"]) for r in result.records}
                live = [u for u, (s, _) in expected.items() if s == "ok"]
                rotten = [u for u in expected if u not in live]
                false_rotten = [u for u in live if got[u] != expected[u]]
                missed = [u for u in rotten if got[u] != expected[u]]
                extra = []
                for site, sources in built:
                    listed = {p for p, _, _ in sources}
                    asked = {p for p in site.hits if p.split("?", 1)[0] not in listed}
                    # redirect targets are part of fetching the source, not probes
                    targets = {
                        "/",
                        "/index.html",
                        "/home",
                        "/fr/",
                        "/account/login",
                        "/wp-login.php",
                    }
                    extra.append(
                        sum(
                            site.hits[p]
                            for p in asked
                            if p.split("?", 1)[0] not in targets and p != "/robots.txt"
                        )
                    )
                kinds = Counter(e for u, (_, e) in got.items() if u in rotten)
                figures.append(
                    f"night {night}: {len(entries)} sources over {len(sites)} origins; "
                    f"rotten {len(rotten)} ({len(rotten) - len(missed)} with their kind; "
                    f"{dict(kinds)}), live {len(live)} ({len(false_rotten)} called rotten); "
                    f"extra requests {sum(extra)} (max {max(extra)} per origin); "
                    f"CDX lookups so far {len(archive.queries)}"
                )
                assert not missed, {u: (got[u], expected[u]) for u in missed}
                assert not false_rotten, {u: (got[u], expected[u]) for u in false_rotten}
                assert max(extra) <= 1
                if night == 2:
                    assert sum(extra) == 0  # the probes are remembered
            print("\n" + "\n".join(figures))
    finally:
        for site in sites:
            site.__exit__(None, None, None)
