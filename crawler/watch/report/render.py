"""Render a :class:`~crawler.watch.report.model.Report` as one self-contained HTML page.

No external scripts, styles, fonts or images: the page must open from a file
or an S3 link years later, offline. Its Content-Security-Policy forbids every
fetch (``default-src 'none'``), so a mistake that would reach the network shows
up as a console error in the browser test instead of a silent request, and it
allows no inline code but the page's own: the sha256 of each ``<script>`` and
``<style>`` block, computed from the finished page (:func:`content_security_policy`),
so a value from a record that slipped through escaping still could not run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from html import escape, unescape

from crawler.watch.alarms import COVERAGE_FIELDS, COVERAGE_LABELS
from crawler.watch.report.model import Change, Night, Report, RotSection, Rotten

#: stands for the policy until the page is complete (the hashes are of the finished blocks)
_CSP_PLACEHOLDER = "__CONTENT_SECURITY_POLICY__"
_INLINE_BLOCK = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
STATUS_ORDER = ("ok", "dead", "paywall", "error")
#: Listing every change of a 6,000-source night would make the page huge; counts stay exact.
MAX_LISTED = 200
DASH = "\N{EN DASH}"  # an unknown value
TOP_DOMAINS = 15

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;
padding:16px 24px;color:#1d2127;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}
.meta{color:#555;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:16px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f5f6f8}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.alarm{background:#fde8e8;border:1px solid #e0a0a0;border-radius:6px;padding:8px 12px}
.calm{background:#e8f6ea;border:1px solid #a6d4ad;border-radius:6px;padding:8px 12px}
.note{background:#f5f6f8;border:1px solid #ccd;border-radius:6px;padding:8px 12px}
.s-ok{color:#1a7f37}.s-dead{color:#8250df}.s-paywall{color:#9a6700}.s-error{color:#cf222e}
.url{word-break:break-all}.small{font-size:12px;color:#555}
input[type=search]{font:inherit;padding:4px 8px;width:320px}select{font:inherit;padding:3px}
details{margin:4px 0}summary{cursor:pointer}
.charts{display:flex;flex-wrap:wrap;gap:18px}.chart{border:1px solid #eee;padding:6px 8px}
"""

#: rows of the list of sources drawn at once: the page stays light whatever the night's size
PAGE_SIZE = 100
#: the columns of each row in the sources data block, in order
SOURCE_COLUMNS = ("status", "error", "http_status", "title", "published_date", "domain", "url")
#: The page's only script, constant (no data in it: a CSP hash of it stays valid). It
#: draws one page of the list of sources from the JSON data block, with the DOM's
#: text and attribute setters (never HTML), and links only http(s) URLs.
SCRIPT = r"""
(function(){
  var data=JSON.parse(document.getElementById('sources-data').textContent);
  var rows=data.rows,size=data.page_size,keys=new Array(rows.length),page=0,matches=rows;
  var q=document.getElementById('filter'),s=document.getElementById('status-filter'),
      body=document.querySelector('#sources tbody'),shown=document.getElementById('shown'),
      prev=document.getElementById('prev'),next=document.getElementById('next'),
      at=document.getElementById('page'),pages=document.getElementById('pages');
  var FAILING={dead:1,paywall:1,error:1},WEB=/^https?:\/\//i;
  function key(i){
    if(keys[i]===undefined){keys[i]=rows[i].join('\u0001').toLowerCase();}
    return keys[i];
  }
  function cell(tr,text,cls){
    var td=document.createElement('td');
    if(cls){td.className=cls;}
    td.textContent=text===null||text===undefined?'':String(text);
    tr.appendChild(td);return td;
  }
  function draw(){
    var n=matches.length,last=Math.max(Math.ceil(n/size),1),frag=document.createDocumentFragment();
    if(page>=last){page=last-1;}
    for(var i=page*size;i<Math.min(n,(page+1)*size);i++){
      var r=matches[i],tr=document.createElement('tr');
      tr.setAttribute('data-status',r[0]);
      cell(tr,r[0],'s-'+r[0]);cell(tr,r[1]);cell(tr,r[2],'n');cell(tr,r[3]);cell(tr,r[4]);
      cell(tr,r[5]);
      var td=cell(tr,WEB.test(r[6])?'':r[6],'url');
      if(WEB.test(r[6])){
        var a=document.createElement('a');
        a.href=r[6];a.rel='noreferrer noopener';a.textContent=r[6];td.appendChild(a);
      }
      if(r[7]){tr.title=r[7];}
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    shown.textContent=n.toLocaleString('en-US');
    at.textContent=String(page+1);pages.textContent=String(last);
    prev.disabled=page===0;next.disabled=page>=last-1;
  }
  function apply(){
    var text=q.value.trim().toLowerCase(),status=s.value;
    matches=[];
    for(var i=0;i<rows.length;i++){
      var st=rows[i][0];
      if(status==='failing'?!FAILING[st]:(status&&st!==status)){continue;}
      if(text&&key(i).indexOf(text)===-1){continue;}
      matches.push(rows[i]);
    }
    page=0;draw();
  }
  q.addEventListener('input',apply);s.addEventListener('change',apply);
  prev.addEventListener('click',function(){page--;draw();});
  next.addEventListener('click',function(){page++;draw();});
  apply();
})();
"""


def _link(url: str) -> str:
    """The URL as a link when it is http(s) (nothing else gets an href), else as text."""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{escape(url)}" rel="noreferrer noopener">{escape(url)}</a>'
    return escape(url)


def _json_in_script(data: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` to end or confuse it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.0%}"


def _num(value: int, metric: str) -> str:
    return f'<td class="n" data-metric="{escape(metric)}">{value:,}</td>'


def _table(head: Sequence[str], rows: Iterable[str], numeric: Sequence[bool]) -> str:
    cells = "".join(
        f"<th{' class=n' if n else ''}>{escape(h)}</th>" for h, n in zip(head, numeric, strict=True)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _header(report: Report) -> str:
    night = report.tonight
    manifest = night.manifest or {}
    bits = [f"started {escape(night.started_at)}"]
    if manifest.get("finished_at"):
        bits.append(f"finished {escape(str(manifest['finished_at']))}")
    if manifest.get("sources"):
        bits.append(f"sources {escape(str(manifest['sources']))}")
    if manifest.get("sha256"):
        bits.append(f"sha256 {escape(str(manifest['sha256'])[:16])}…")
    if manifest and manifest.get("records") != night.counts.records:
        bits.append(
            f"<b>the manifest says {escape(str(manifest.get('records')))} records, "
            f"the file holds {night.counts.records}</b>"
        )
    return (
        f"<h1>Sources crawl: {escape(night.path.name)}</h1>"
        f'<p class="meta">{" · ".join(bits)} · report generated {escape(report.generated_at)}</p>'
    )


def _alarms(report: Report) -> str:
    if not report.alarms and not report.judged:
        return (
            '<div class="note" id="alarms" data-judged="false">Not judged: '
            f"{report.tonight.counts.records:,} records, fewer than the "
            f"{report.thresholds.min_records:,} the coverage alarms need "
            "(ALARM_MIN_RECORDS): shares of so few records say nothing.</div>"
        )
    if not report.alarms:
        return '<div class="calm" id="alarms">No coverage alarm: every threshold holds.</div>'
    items = "".join(
        f'<li data-alarm="{escape(a.name)}"><b>{escape(a.name)}</b>: {escape(a.message)}</li>'
        for a in report.alarms
    )
    return f'<div class="alarm" id="alarms"><b>Alarms</b><ul>{items}</ul></div>'


def _totals(report: Report) -> str:
    night = report.tonight
    total = night.counts.records
    cards = [f'<div class="card">records<b data-metric="records">{total:,}</b></div>']
    for status in STATUS_ORDER:
        n = night.by_status.get(status, 0)
        cards.append(
            f'<div class="card s-{status}">{status}<b data-metric="status/{status}">{n:,}</b>'
            f'<span class="small">{_pct(n / total if total else None)}</span></div>'
        )
    others = sorted(set(night.by_status) - set(STATUS_ORDER))
    for status in others:  # a status this page does not know: show it rather than hide it
        cards.append(
            f'<div class="card">{escape(status)}<b data-metric="status/{escape(status)}">'
            f"{night.by_status[status]:,}</b></div>"
        )
    errors = _table(
        ["error kind", "records"],
        (
            f"<tr><td>{escape(kind)}</td>{_num(n, f'error/{kind}')}</tr>"
            for kind, n in sorted(night.by_error.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        [False, True],
    )
    return (
        f'<h2>Totals</h2><div class="grid" id="totals">{"".join(cards)}</div>'
        f"<h2>By error kind</h2>{errors if night.by_error else '<p>No errors.</p>'}"
    )


def _change_list(title: str, key: str, changes: list[Change], show_before: bool) -> str:
    if not changes:
        return ""
    rows = []
    for c in changes[:MAX_LISTED]:
        state = f"{escape(c.before)} → {escape(c.after)}" if show_before else escape(c.after)
        rows.append(
            f'<tr><td>{escape(c.resource_id)}</td><td class="url">{_link(c.url)}</td>'
            f"<td>{state}</td></tr>"
        )
    more = (
        f'<p class="small">… and {len(changes) - MAX_LISTED:,} more.</p>'
        if len(changes) > MAX_LISTED
        else ""
    )
    table = _table(["resource_id", "url", "status"], rows, [False, False, False])
    return (
        f'<details data-list="{key}"><summary>{escape(title)} ({len(changes):,})</summary>'
        f"{table}{more}</details>"
    )


def _changes(report: Report) -> str:
    changes = report.changes
    if changes is None:
        return (
            "<h2>Since the previous night</h2>"
            "<p>No earlier run in this directory to compare with.</p>"
        )
    kinds = [
        ("new sources", "new", changes.new, False),
        ("newly dead", "newly_dead", changes.newly_dead, True),
        ("recovered", "recovered", changes.recovered, True),
        ("content changed", "content_changed", changes.content_changed, True),
        ("no longer listed", "removed", changes.removed, True),
    ]
    cards = "".join(
        f'<div class="card">{escape(title)}<b data-metric="changes/{key}">{len(items):,}</b></div>'
        for title, key, items, _ in kinds
    )
    lists = "".join(_change_list(t, k, items, before) for t, k, items, before in kinds)
    return (
        f"<h2>Since the previous night</h2>"
        f'<p class="meta">compared by resource_id with {escape(changes.previous.path.name)} '
        f"(started {escape(changes.previous.started_at)}); content by content_sha256</p>"
        f'<div class="grid" id="changes">{cards}</div>{lists}'
    )


def _failure_domains(report: Report) -> str:
    if not report.failure_domains:
        return "<h2>Domains with the most failures</h2><p>No failing sources.</p>"
    rows = (
        f"<tr><td>{escape(d.domain)}</td>{_num(d.failing, f'domain-failing/{d.domain}')}"
        f'<td class="n">{d.total:,}</td><td class="n">{_pct(d.share)}</td>'
        f"<td>{escape(', '.join(f'{k} {n}' for k, n in d.kinds))}</td></tr>"
        for d in report.failure_domains[:TOP_DOMAINS]
    )
    return "<h2>Domains with the most failures</h2>" + _table(
        ["domain", "failing", "sources", "share", "kinds"], rows, [False, True, True, True, False]
    )


def _seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f} s"


def _slow_domains(report: Report) -> str:
    note = (
        '<p class="small">Latency of the last download of each page (Scrapy download_latency), '
        "averaged per domain.</p>"
        if report.timings_available
        else '<p class="small">No download timings were recorded for this run; '
        "domains are ranked by timeouts only.</p>"
    )
    if not report.slow_domains:
        return f"<h2>Slowest domains</h2>{note}<p>Nothing to show.</p>"
    rows = (
        f"<tr><td>{escape(s.domain)}</td><td class=n>{s.responses:,}</td>"
        f'<td class="n" data-metric="latency/{escape(s.domain)}">{_seconds(s.mean_latency)}</td>'
        f'<td class="n">{_seconds(s.max_latency)}</td>'
        f"{_num(s.timeouts, f'timeouts/{s.domain}')}</tr>"
        for s in report.slow_domains[:TOP_DOMAINS]
    )
    return f"<h2>Slowest domains</h2>{note}" + _table(
        ["domain", "responses", "mean latency", "max latency", "timeouts"],
        rows,
        [False, True, True, True, True],
    )


def _chart(field: str, nights: Sequence[Night], threshold: float | None) -> str:
    """A small bar chart of one field's coverage, one bar a night, tonight last and darker."""
    width, height, pad = 260, 70, 14
    step = (width - 8) / max(len(nights), 1)
    bar = max(step - 3, 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + pad}" '
        f'role="img" aria-label="{escape(COVERAGE_LABELS[field])} coverage by night">',
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/>',
    ]
    for i, night in enumerate(nights):
        value = night.counts.coverage(field)
        x = 4 + i * step
        last = i == len(nights) - 1
        if value is None:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 2}" font-size="9" '
                f'text-anchor="middle" fill="#999">{DASH}<title>{escape(night.label)}: '
                "no ok records</title></text>"
            )
            continue
        h = max(value * (height - 4), 1)
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{"#1f6feb" if last else "#9cc1f5"}"><title>{escape(night.label)}: '
            f"{value:.1%} ({night.counts.fields[field]} of {night.counts.ok})</title></rect>"
        )
    if threshold is not None:
        y = height - threshold * (height - 4)
        parts.append(
            f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#cf222e" '
            f'stroke-dasharray="4 3"><title>alarm below {threshold:.0%}</title></line>'
        )
    parts.append(
        f'<text x="0" y="{height + pad - 2}" font-size="10" fill="#555">'
        f"{escape(nights[0].label)}</text>"
        f'<text x="{width}" y="{height + pad - 2}" font-size="10" fill="#555" '
        f'text-anchor="end">{escape(nights[-1].label)}</text></svg>'
    )
    return "".join(parts)


def _coverage(report: Report) -> str:
    nights = report.history
    previous = nights[-2] if len(nights) > 1 else None
    blocks = []
    for field in COVERAGE_FIELDS:
        now = report.tonight.counts.coverage(field)
        before = previous.counts.coverage(field) if previous else None
        blocks.append(
            f'<div class="chart" data-field="{field}"><b>{escape(COVERAGE_LABELS[field])}</b> '
            f'<span data-metric="coverage/{field}">{_pct(now)}</span>'
            f'<span class="small"> (previous night {_pct(before)})</span><br>'
            f"{_chart(field, nights, report.thresholds.min_coverage.get(field))}</div>"
        )
    return (
        "<h2>Field coverage of ok records</h2>"
        f'<p class="small">Share of the {report.tonight.counts.ok:,} ok records '
        "carrying each field, "
        f"for the last {len(nights)} night(s); the dashed line is the alarm threshold.</p>"
        f'<div class="charts">{"".join(blocks)}</div>'
    )


def _sources(report: Report) -> str:
    """Every source, searchable: the rows travel as JSON and the script draws one page."""
    failing = len(report.failing)
    total = len(report.sources)
    data = {
        "page_size": PAGE_SIZE,
        "columns": [*SOURCE_COLUMNS, "detail"],
        "rows": [
            [r.status, r.error, r.http_status, r.title, r.published_date, r.domain, r.url]
            + ([r.detail] if r.detail else [])
            for r in report.sources
        ],
    }
    options = "".join(f'<option value="{s}">{s}</option>' for s in STATUS_ORDER)
    head = _table(
        ["status", "error", "HTTP", "title", "published", "domain", "url"],
        [],
        [False, False, True, False, False, False, False],
    ).replace("<table>", '<table id="sources">', 1)
    return (
        f"<h2>Sources</h2>"
        f'<p class="small"><span data-metric="failing">{failing:,}</span> failing of '
        f'<span data-metric="sources">{total:,}</span> sources, failing first; '
        "hover a row for its error detail.</p>"
        f'<p><input type="search" id="filter" placeholder="Search title, URL, domain, error…" '
        f'aria-label="search the sources"> <select id="status-filter" aria-label="status">'
        f'<option value="">any status</option><option value="failing">failing</option>'
        f"{options}</select> "
        f'<span class="small"><span id="shown">{total:,}</span> shown</span> '
        f'<button type="button" id="prev">previous</button> page <span id="page">1</span> of '
        f'<span id="pages">{max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)}</span> '
        f'<button type="button" id="next">next</button></p>{head}'
        "<noscript><p>The list of sources needs JavaScript; the figures above do not.</p>"
        "</noscript>"
        f'<script type="application/json" id="sources-data">{_json_in_script(data)}</script>'
    )


def _source_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(document: str) -> str:
    """The CSP of a finished page: no fetch, and only its own inline blocks, by sha256.

    Every ``<script>`` and ``<style>`` block the page holds is hashed (a
    section added later keeps working without touching the policy); style
    attributes, if a section uses any, are allowed by hash too
    (``'unsafe-hashes'``), never by ``'unsafe-inline'``.
    """
    scripts: list[str] = []
    styles: list[str] = []
    for tag, text in _INLINE_BLOCK.findall(document):
        (scripts if tag.lower() == "script" else styles).append(_source_hash(text))
    attributes = [
        _source_hash(unescape(double or single))
        for double, single in _STYLE_ATTRIBUTE.findall(document)
    ]
    if attributes:
        styles += ["'unsafe-hashes'", *attributes]

    def sources(hashes: list[str]) -> str:
        return " ".join(dict.fromkeys(hashes)) or "'none'"

    return (
        f"default-src 'none'; style-src {sources(styles)}; script-src {sources(scripts)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


_ROT_LISTS = (
    ("soft_404", "soft 404s", "the page answers 200 but is the site's not-found page"),
    ("redirected_home", "redirected home", "a deep URL now lands on the home page"),
    ("parked_domain", "parked domains", "the domain is parked or for sale"),
    ("login_wall", "login walls", "redirected to a sign-in page"),
)


def _rot_list(title: str, key: str, rows: list[Rotten]) -> str:
    if not rows:
        return ""
    cells = []
    for r in rows[:MAX_LISTED]:
        archive = (
            f'<a href="{escape(r.archive_url)}" rel="noreferrer">'
            f"{escape(r.archive_captured_at or 'archived copy')}</a>"
            if r.archive_url
            else DASH
        )
        confirmed = "yes" if r.dead_confirmed else ""
        cells.append(
            f'<tr><td class="url">{escape(r.url)}</td><td>{escape(r.error or r.status)}</td>'
            f'<td class="small">{escape(r.detail)}</td><td>{confirmed}</td><td>{archive}</td></tr>'
        )
    more = (
        f'<p class="small">… and {len(rows) - MAX_LISTED:,} more.</p>'
        if len(rows) > MAX_LISTED
        else ""
    )
    table = _table(["url", "kind", "evidence", "confirmed", "archive"], cells, [False] * 5)
    return (
        f'<details data-list="rot/{escape(key)}"><summary>{escape(title)} ({len(rows):,})'
        f"</summary>{table}{more}</details>"
    )


def _rot(section: RotSection | None) -> str:
    """The "Reference rot" section: newly dead by kind, each rot kind, drifted pages."""
    if section is None:
        return ""
    new_title = "newly dead" if section.compared else "dead (first night)"
    cards = [
        f'<div class="card">{escape(new_title)}'
        f'<b data-metric="rot/newly_dead">{len(section.newly_dead):,}</b></div>'
    ]
    for key, title, _ in _ROT_LISTS:
        count = len(section.by_kind.get(key, []))
        cards.append(
            f'<div class="card">{escape(title)}<b data-metric="rot/{key}">{count:,}</b></div>'
        )
    cards.append(
        f'<div class="card">drifted<b data-metric="rot/drifted">{len(section.drifted):,}</b></div>'
    )
    cards.append(
        f'<div class="card">with an archived copy'
        f'<b data-metric="rot/with_archive">{section.with_archive:,}</b></div>'
    )
    kinds = ", ".join(f"{k} {n:,}" for k, n in section.newly_dead_by_kind.most_common())
    lists = [
        _rot_list(f"{new_title}: {kinds}" if kinds else new_title, "newly_dead", section.newly_dead)
    ]
    lists += [
        _rot_list(f"{title} ({why})", key, section.by_kind.get(key, []))
        for key, title, why in _ROT_LISTS
    ]
    lists.append(
        _rot_list("drifted (the page is now another document)", "drifted", section.drifted)
    )
    return (
        "<h2>Reference rot</h2>"
        '<p class="meta">dead sources by kind, pages that answer but are not the cited '
        "document any more, and their closest archived copy</p>"
        f'<div class="grid" id="rot">{"".join(cards)}</div>{"".join(lists)}'
    )


def render(report: Report) -> str:
    """Return the report as a complete HTML document."""
    body = "".join(
        [
            _header(report),
            _alarms(report),
            _totals(report),
            _changes(report),
            _rot(report.rot),
            _failure_domains(report),
            _slow_domains(report),
            _coverage(report),
            _sources(report),
        ]
    )
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_PLACEHOLDER}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Sources crawl report: {escape(report.tonight.path.name)}</title>"
        f"<style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n"
    )
    # single quotes only (base64 holds no "): the attribute is double-quoted
    policy = escape(content_security_policy(document), quote=False)
    return document.replace(_CSP_PLACEHOLDER, policy, 1)
