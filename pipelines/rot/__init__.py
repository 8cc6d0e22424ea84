"""Reference rot: pure rules telling whether a cited page is still the cited document.

Nothing here imports Scrapy or touches the network, so every rule is testable
on plain values. :mod:`pipelines.rot_stage` feeds these functions from the
crawl (probe responses, archive lookups, the state) and writes the record.

* :mod:`.similarity`: shingles, bottom-k sketches and similarities;
* :mod:`.signals`: not-found phrasing, landing and login pages, parked domains;
* :mod:`.probe`: soft-404 probes (a path that cannot exist) and their comparison;
* :mod:`.drift`: whether the page is still the document first seen;
* :mod:`.deadness`: failures in a row and when a dead source is confirmed;
* :mod:`.cdx`: the Wayback Machine's CDX JSON answers and replay URLs.
"""

from __future__ import annotations

#: error kinds this package gives, with the status each one comes with
ROT_ERROR_KINDS: dict[str, str] = {
    "soft_404": "dead",
    "redirected_home": "dead",
    "parked_domain": "dead",
    "login_wall": "paywall",
}
