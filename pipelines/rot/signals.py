"""Signals of rot in one page: not-found wording, landing and login pages, parking.

Each function takes plain values (URLs, a title, the start of the main text,
the head of the body) and returns evidence as a sentence, or None. Phrase
lists cover the common web languages (en, de, fr, es, it, pt, nl, ru, ja,
zh, pl, and sv, da, nb, cs, tr, ko); they are matched on case-folded,
NFKC-normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from pipelines.rot.parking import PARKING_HOSTS, PARKING_MARKUP

#: below this many characters of main text a page is "thin": a not-found or
#: parking page, not an article (the shortest articles of the evaluation pages
#: have well over 1,000 characters of main text)
THIN_TEXT_CHARS = 1000
#: a title that says "not found" is believed up to this much main text (site
#: templates put menus and suggestions around the message)
TITLE_THIN_TEXT_CHARS = 3000
#: how far into the main text a not-found message is looked for
TEXT_HEAD_CHARS = 400
#: bytes of markup scanned for parking and login markers
MARKUP_HEAD_BYTES = 256 * 1024
#: characters of a title or text (folded) a parking phrase is looked for in
PARKING_TEXT_CHARS = 4000
#: markup is turned into text this many bytes at a time, until there is enough
_VISIBLE_WINDOW_BYTES = 8 * 1024

# Titles of not-found pages. Short and generic words are fine here: a title
# is the page's name, and the thin-body condition applies as well.
_NOT_FOUND_TITLE = (
    "not found",
    "page not found",
    "404",
    "does not exist",
    "doesn't exist",
    "no longer available",
    "can't be found",
    "can\u2019t be found",
    "cannot be found",
    "could not be found",
    "couldn't be found",
    "nicht gefunden",
    "existiert nicht",
    "introuvable",
    "non trouvée",
    "non trouvee",
    "n'existe pas",
    "n\u2019existe pas",
    "no encontrad",
    "no existe",
    "non trovat",
    "non esiste",
    "não encontrad",
    "nao encontrad",
    "não existe",
    "niet gevonden",
    "bestaat niet",
    "не найден",
    "не существует",
    "見つかりません",
    "存在しません",
    "找不到",
    "未找到",
    "不存在",
    "nie znaleziono",
    "nie istnieje",
    "hittades inte",
    "ikke fundet",
    "ikke funnet",
    "nenalezen",
    "bulunamad\u0131",
    "찾을 수 없",
)
# Phrases of not-found messages in a page's text: specific enough that an
# article's sentence ("the gene was not found in ...") does not match.
_NOT_FOUND_TEXT = re.compile(
    "|".join(
        [
            r"\b(?:page|file|resource|url)s? (?:was |were |could |can)?not(?: be)? found",
            r"\brequested (?:document|article|content|page|url) (?:was |could )?not(?: be)? found",
            r"\bpage (?:you|you're|you are) (?:were |are )?(?:looking|searching) for",
            r"\b(?:page|document|article|content)\b.{0,30}\b(?:does not|doesn't|no longer) exists?",
            r"\b(?:could not|couldn't|cannot|can't|can not) (?:be )?(?:find|found|locate)\b"
            r".{0,20}\b(?:page|url)",
            r"\b(?:page|article|story|content|post) (?:is|are|has been) no longer available",
            r"\berror 404\b|\b404 error\b|\b404 not found\b|^404\b",
            r"seite\b.{0,40}(?:nicht gefunden|existiert\b.{0,20}\bnicht|nicht (?:mehr )?verfügbar)",
            r"fehler 404",
            r"page\b.{0,30}introuvable|page non trouvée|page inexistante|erreur 404",
            r"n['\u2019]existe (?:pas|plus)",
            r"página no (?:encontrada|existe|disponible)|la página\b.{0,40}no existe",
            r"no se (?:ha )?(?:podido )?encontr(?:ar|ado|ó)\b.{0,30}página",
            r"pagina non (?:trovata|esiste|esistente|disponibile)|la pagina\b.{0,40}non esiste",
            r"pagina\b.{0,40}non (?:è|e) stata trovata",
            r"página não (?:encontrada|existe)|a página\b.{0,40}não existe",
            r"página\b.{0,40}não foi encontrada",
            r"pagina nao encontrada",
            r"pagina (?:niet gevonden|bestaat niet)|pagina\b.{0,40}(?:bestaat niet|niet gevonden)",
            r"страниц[аы]\b.{0,30}не (?:найдена|существует)",
            r"見つかりません|存在しません|お探しのページ",
            r"(?:页面|網頁|网页|頁面).{0,10}(?:不存在|未找到|找不到)|找不到(?:该|此|您要的|网页|页面)",
            r"strona\b.{0,30}nie (?:istnieje|została znaleziona)|nie znaleziono strony",
            r"sidan (?:kunde inte hittas|hittades inte)|siden (?:blev ikke fundet|finnes ikke)",
            r"stránka (?:nebyla nalezena|nenalezena|neexistuje)|sayfa bulunamad\u0131",
            r"페이지를 찾을 수 없",
        ]
    )
)
# The domain is parked or for sale.
_PARKING_TEXT = re.compile(
    "|".join(
        [
            r"\bthis domain (?:name )?(?:is|may be|might be) for sale\b",
            r"\b(?:buy|purchase|make an offer on) this domain\b",
            r"\bdomain (?:name )?is for sale\b",
            r"\bthis domain (?:name )?(?:has been|was|is) (?:registered|parked)\b",
            r"\bparked (?:free|domain|by|at|with)\b|\bdomain parking\b",
            r"\bdomain (?:name )?(?:is |may be )?(?:available )?for (?:sale|purchase)\b",
            r"\b(?:inquire|enquire) about this domain\b|\bget this domain\b",
            r"\bthis (?:web ?)?page is parked\b|\bhas not yet uploaded (?:their|a|his|her) website",
            r"\bthis domain (?:name )?has expired\b",
            r"\bthe domain [\w.-]+ (?:is|may be) for sale\b",
            r"\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\s+(?:is|may be)\s+(?:available\s+)?for\s+"
            r"(?:sale|purchase)\b",
            r"diese domain (?:steht zum verkauf|kann erworben werden|ist zu verkaufen|kaufen)",
            r"ce (?:nom de )?domaine est (?:à vendre|en vente)|acheter ce (?:nom de )?domaine",
            r"este dominio (?:está|esta) (?:a la venta|en venta)|comprar este dominio",
            r"questo dominio (?:è|e) in vendita|acquista questo dominio",
            r"este domínio (?:está|esta) (?:à|a) venda|compre este domínio",
            r"dit domein is te koop|deze domeinnaam is te koop",
            r"этот домен (?:продается|продаётся)|купить этот домен",
            r"このドメインは(?:販売中|売り物)",
            r"该域名(?:正在)?出售|此域名(?:正在)?出售|域名出售",
            r"ta domena jest na sprzedaż|domena na sprzedaż",
        ]
    )
)
# Every alternative of _PARKING_TEXT contains one of these words literally
# (the pattern has no IGNORECASE: it is matched on folded text), so a text
# without any of them cannot match. Kept next to the pattern: an alternative
# added there needs its word here (tests/test_rot_rules.py checks each one).
_PARKING_WORDS = (
    # every "domain" of the pattern has a literal space before or after it
    # (scripts' "document.domain" and "cookie_domain" have neither)
    " domain",
    "domain ",
    "dominio",
    "domínio",
    "domein",
    "domena",
    "parked",
    "has not yet uploaded",
    "sale",
    "purchase",
    "домен",
    "ドメイン",
    "域名",
)
# Path segments of sign-in pages.
_LOGIN_PATH = re.compile(
    r"(?:^|[/_.\-])(?:log-?in|log_in|sign-?in|sign_in|signon|sign-on|logon|sso|cas|auth|"
    r"authenticate|anmelden|connexion|iniciar-sesion|accedi|entrar|inloggen|zaloguj|"
    r"wp-login\.php|session/new|sessions/new)(?:$|[/_.\-?])",
    re.IGNORECASE,
)
_LOGIN_TITLE = (
    "log in",
    "login",
    "sign in",
    "signin",
    "anmelden",
    "anmeldung",
    "einloggen",
    "connexion",
    "se connecter",
    "iniciar sesión",
    "iniciar sesion",
    "accedi",
    "entrar",
    "inloggen",
    "aanmelden",
    "вход",
    "войти",
    "ログイン",
    "登录",
    "登入",
    "zaloguj",
    "logowanie",
)
_PASSWORD_INPUT = re.compile(rb"<input[^>]{0,400}type\s*=\s*[\"']?password", re.IGNORECASE)
# Landing pages: the root, index files, /home and language roots (/en/, /pt-br/).
_LANDING_PATH = re.compile(
    r"^/(?:[a-z]{2}(?:[-_][a-z]{2,4})?/?)?"
    r"(?:(?:index|default|home|start|main|welcome|accueil|inicio|startseite)"
    r"(?:\.(?:html?|php|aspx?|jsp|cfm|shtml))?/?)?$",
    re.IGNORECASE,
)


# Query parameters that choose a document on a script at the root (WordPress's
# ?p=, ?page_id=, CMS ?id=, ?article=, forum ?t=, video ?v=, search ?q=/?s=).
_CONTENT_QUERY_KEYS = frozenset(
    {"p", "page_id", "id", "article", "story", "post", "doc", "item", "pid", "t", "v", "q", "s"}
)


def _fold(text: str | None, limit: int) -> str:
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text[:limit]).casefold()


# Separators between a headline and a site name; a not-found title part is short.
_TITLE_PARTS = re.compile(r"\s+[|\-\u2013\u2014:\u00b7\u2022]+\s+|\s*[|\u2014\u00b7\u2022]\s*")
_MAX_TITLE_PART_WORDS = 6


def _title_says_not_found(folded: str) -> bool:
    """Whether a part of the title is a short "not found" ("Page not found | Site", "404")."""
    for part in _TITLE_PARTS.split(folded):
        if not part or len(part.split()) > _MAX_TITLE_PART_WORDS:
            continue
        for phrase in _NOT_FOUND_TITLE:
            if phrase == "404":
                if re.search(r"(?<!\d)404(?!\d)", part):
                    return True
            elif phrase in part:
                return True
    return False


def not_found_wording(title: str | None, text: str | None, text_chars: int | None) -> str | None:
    """Evidence that a page is a not-found page by its own words, or None.

    A thin page (main text under ``THIN_TEXT_CHARS``) whose title says "not
    found" (in any of the languages), or whose text starts with a not-found
    sentence, is one; so is a page under ``TITLE_THIN_TEXT_CHARS`` saying it
    in both (site templates put menus and suggestions around the message).
    A title counts only when the part that says it is short ("Page not
    found | Site"), and a long article whose headline says it never does.
    """
    length = text_chars if text_chars is not None else len(text or "")
    if length >= TITLE_THIN_TEXT_CHARS:
        return None
    titled = _title_says_not_found(_fold(title, 300))
    found = _NOT_FOUND_TEXT.search(_fold(text, TEXT_HEAD_CHARS))
    if titled and (length < THIN_TEXT_CHARS or found):
        return f"the title says {title!r} ({length} characters of text)"
    if found and length < THIN_TEXT_CHARS:
        return f"the page says {found.group(0)!r} ({length} characters of text)"
    return None


def mentions_not_found(title: str | None, text: str | None) -> bool:
    """Whether a page's title or the start of its text says "not found", however long it is.

    For a page known to be a site's answer to a path that cannot exist (a
    probe), where the length of the page says nothing.
    """
    if _title_says_not_found(_fold(title, 300)):
        return True
    return bool(_NOT_FOUND_TEXT.search(_fold(text, TEXT_HEAD_CHARS)))


def parking_wording(title: str | None, text: str | None) -> str | None:
    """The phrase by which a page says its domain is for sale or parked, or None."""
    for value in (title, text):
        folded = _fold(value, PARKING_TEXT_CHARS)
        # The pattern's alternatives have no literal prefix, so the regex
        # engine tries every one at every position (about 2 ms for 4,000
        # characters); the substring checks cost microseconds and rule most
        # texts out, with the same answer.
        if not any(word in folded for word in _PARKING_WORDS):
            continue
        found = _PARKING_TEXT.search(folded)
        if found:
            return found.group(0)
    return None


def host_of(url: str | None) -> str:
    """The lowercase host of a URL ('' when none)."""
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def parking_host(urls: list[str | None]) -> str | None:
    """The first host among ``urls`` that belongs to a parking or domain-sale service."""
    for url in urls:
        host = host_of(url)
        while host:
            if host in PARKING_HOSTS:
                return host_of(url)
            _, _, host = host.partition(".")
    return None


@dataclass(frozen=True, slots=True)
class MarkupSignals:
    """What the head of a page's markup shows (read before extraction drops the body)."""

    #: a parking service's marker found in the markup, or None
    parking_marker: str | None
    #: a parking or for-sale phrase found in the markup's text, or None
    parking_phrase: str | None
    #: whether the page has a password field
    password_form: bool


# Tags only, each bounded: a hostile page of unclosed "<script" must not make
# this quadratic. Script and style text stays in: on a parking lander it is
# often where the for-sale wording is.
_TAGS = re.compile(rb"<[^<>]{0,4096}>")
_SPACES = re.compile(r"\s+")
#: the parking markers, in their order, each with whether it contains "parking"
_MARKERS = tuple((m, b"parking" in m) for m in PARKING_MARKUP)


def _visible_text(markup: bytes) -> str:
    """The markup's text: tags replaced by a space, decoded, runs of whitespace made one space."""
    return _SPACES.sub(" ", _TAGS.sub(b" ", markup).decode("utf-8", "replace"))


def visible_text_head(head: bytes, chars: int) -> str:
    """The start of :func:`_visible_text` of ``head``: at least ``chars`` characters or all of it.

    Built window by window, stopping once the text is long enough, instead
    of from all of ``head``. Each window ends right after a ``>``, which makes
    the windows' texts, joined, the whole text's start: a tag match runs from
    its ``<`` to the first ``>`` after it, so none spans a cut; a cut falls
    after an ASCII byte, where UTF-8 decoding starts afresh; and collapsing
    whitespace again after joining merges the runs that meet at a cut.
    """
    pieces: list[str] = []
    # a lower bound of the joined text's length: joining merges at most one
    # pair of spaces at each cut
    length = 0
    start = 0
    while start < len(head) and length < chars:
        end = start + _VISIBLE_WINDOW_BYTES
        if end >= len(head):
            end = len(head)
        else:
            cut = head.rfind(b">", start, end)
            if cut < 0:
                cut = head.find(b">", end)
            end = cut + 1 if cut >= 0 else len(head)
        piece = _visible_text(head[start:end])
        pieces.append(piece)
        length += len(piece) - 1
        start = end
    return _SPACES.sub(" ", "".join(pieces))


def markup_signals(body: bytes | None) -> MarkupSignals:
    """Scan the first ``MARKUP_HEAD_BYTES`` of a body for parking and login markers."""
    if not body:
        return MarkupSignals(None, None, False)
    head = body[:MARKUP_HEAD_BYTES]
    lowered = head.lower()
    # one pass for "parking" spares the markers that contain it a pass each
    parking = b"parking" in lowered
    marker = next(
        (
            m.decode()
            for m, needs_parking in _MARKERS
            if (parking or not needs_parking) and m in lowered
        ),
        None,
    )
    # parking_wording reads only the first PARKING_TEXT_CHARS of the text
    phrase = parking_wording(None, visible_text_head(head, PARKING_TEXT_CHARS))
    return MarkupSignals(marker, phrase, bool(_PASSWORD_INPUT.search(head)))


def is_landing_path(url: str | None) -> bool:
    """Whether a URL is a site's home or a landing page (``/``, ``/index.html``, ``/en/``).

    A query that names a document (``/?p=123``, ``/index.php?id=7``) makes it
    a page of its own; any other query (``/?from=old``, ``/?utm_source=x``) not.
    """
    if not url:
        return False
    try:
        parts = urlsplit(url)
        keys = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    except ValueError:
        return False
    if keys & _CONTENT_QUERY_KEYS:
        return False
    return bool(_LANDING_PATH.match(parts.path or "/"))


def login_evidence(
    final_url: str | None, title: str | None, password_form: bool, text_chars: int | None
) -> str | None:
    """Why the page a source was redirected to is a sign-in page, or None.

    A sign-in path (``/login``, ``/signin``, ``/wp-login.php``, ...) or a
    sign-in title is enough; a password field only on a thin page (sites put
    a sign-in box in the header of their articles).
    """
    if final_url:
        try:
            parts = urlsplit(final_url)
        except ValueError:
            parts = None
        if parts is not None and _LOGIN_PATH.search(parts.path):
            return f"redirected to a sign-in page ({parts.path})"
    folded = _fold(title, 200)
    if folded:
        words = set(re.findall(r"[^\W_]+", folded))
        for phrase in _LOGIN_TITLE:
            if ((" " in phrase or not phrase.isascii()) and phrase in folded) or phrase in words:
                return f"redirected to a sign-in page titled {title!r}"
    if password_form and (text_chars or 0) < THIN_TEXT_CHARS:
        return "redirected to a page that asks for a password"
    return None
