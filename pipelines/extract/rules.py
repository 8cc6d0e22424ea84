"""Switches of the extraction rules, each kept only if cross-validation says it helps.

Every heuristic the field extractors apply beyond the libraries' own output
has a name here. ``RULES`` holds whether it is on, ``THRESHOLDS`` the value of
the rules that have one; the defaults are the values chosen by
``bench/crossval.py`` (5 folds split by site over both evaluation corpora,
thresholds chosen inside the training folds). The command flips one entry at a
time and measures the effect on the test folds; production code only reads
the table. The figures behind each default are in ``bench/README.md``.
"""

from __future__ import annotations

RULES: dict[str, bool] = {
    # --- authors ---
    # JSON-LD wrapped in <![CDATA[ ]]> or HTML comments is unwrapped before parsing.
    "jsonld_unwrap": True,
    # <meta name=… value=…> (no content attribute) is read like content.
    "meta_value_attribute": True,
    # A JSON-LD author given as {"@id": …} is resolved through the page's @graph.
    "authors_jsonld_ref": True,
    # Visible byline (trafilatura's byline search) when the metadata names no person.
    "authors_byline": True,
    # A "By …" line right after the headline.
    "authors_by_line": True,
    # The site's own organisation (site name, publisher, domain, Organization
    # type) or a user handle is the author only when no later source names a
    # person, judged strictly (capitalised two-to-four-word names, no desk or
    # agency words). Replaces "authors_person_over_org" (any later name won:
    # cross-validated -0.0024, folds 1/2, removed). Cross-validated +0.0190
    # authors F1 (folds 3/0).
    "authors_person_over_site": True,
    # ... and so is a one-word lowercase user handle ("mikecason").
    # Cross-validated +0.0021 authors F1 (folds 1/0).
    "authors_lowercase_handle": True,
    # ... and the page's copyright holder (<meta name=copyright>, JSON-LD
    # copyrightHolder) counts as the site's own organisation there.
    # Cross-validated +0.0056 authors F1 (folds 1/0).
    "authors_copyright_holder": True,
    # A link to the writer's page on the site ("/author/jane-doe/" reading "Jane
    # Doe") names the author when no earlier source does. Cross-validated
    # +0.0113 authors F1 (folds 3/0).
    "authors_profile_link": True,
    # A labelled field ("<strong>Autorin/Autor</strong> Jane Doe") names the
    # author when no earlier source names a person. Cross-validated +0.0028
    # authors F1 (folds 1/0).
    "authors_label_field": True,
    # Names cleaned of e-mail addresses, dates, role words, "(abc)" initials.
    "authors_normalise": True,
    # A picture credit ("(Image: Getty Images)") or a widget's label ("Kommentare
    # geschlossen", "Leave a comment") is no author. Cross-validated +0.0021
    # authors F1 (folds 1/0).
    "authors_credit_strings": True,
    # --- titles ---
    # The visible <h1> wins over metadata headlines when it agrees with them.
    "title_h1_agreement": True,
    # A site name holding a separator is cut from either end of a title as a whole.
    # Off: on the final code of the fifth round it changed no dev title
    # (cross-validated +0.0000, folds 0/0, at the original URLs and from 127.0.0.1).
    "title_site_span": False,
    # An <h1> that is the site's logo (a link to the home page or a section above
    # the page, a *logo* container, or words all in the site name) is no headline,
    # and its text is cut from the titles like a site name.
    "title_h1_logo": True,
    # WordPress's "Site » Blog Archive » Post" segment is cut like a site name.
    "title_blog_archive": True,
    # A title that is the site's name as a whole, the bare domain or "Home" is
    # not the headline while another candidate exists; and a page whose titles
    # all equal the site name still gets one.
    "title_not_site_name": True,
    # og:title wins over a visible <h1> that contains it plus a kicker or a tail.
    "title_og_inside_h1": True,
    # og:title "Kicker: <h1>" (a short lead-in and a colon before the visible
    # headline) wins over the <h1>.
    "title_og_kicker": True,
    # og:title wins over the chosen <h1> when another <h1>/<h2> of the page shows
    # it (alone or behind a kicker of up to eight words). Cross-validated +0.0093
    # title exact (folds 3/0).
    "title_og_heading": True,
    # A heading's text leaves out <style>/<script> and keeps a space between a
    # kicker element and the headline ("<span>Kicker</span>Headline").
    "title_heading_text": True,
    # The site's domain and home page are judged by the address the page
    # declares (<link rel=canonical>, og:url) rather than where it was fetched.
    "title_canonical_host": True,
    # When no <h1> is the headline, an <h2> that is the <title>'s first segment
    # ("Headline | Section | Site") is. Cross-validated +0.0068 title exact
    # (folds 2/0).
    "title_h2_segment": True,
    # --- main text ---
    # readability's article when the chosen text holds few of the page's words.
    # Off: since "text_thorough_when_short" runs first at the same share, it changed
    # no text on the 583 dev pages with text truth (it ran on 14); cross-validated
    # +0.0000 body F1 (both corpora), snippet F1 and lead, folds 0/0
    # (bench/textchoice.py, round 5).
    "text_recall_when_short": False,
    # trafilatura's full default cascade when the chosen text holds few of the page's
    # words. Cross-validated: body F1 +0.0019 (corpus-meta, folds 2/0; corpus 0/0),
    # snippet F1 +0.0075 (2/0).
    "text_thorough_when_short": True,
    # The precise pass with trafilatura's comparison (readability, jusText) when the
    # fast precise pass lost the article and the recall text was all that was left.
    # Cross-validated: body F1 +0.0026 (corpus, folds 2/0), +0.0003 (corpus-meta,
    # 1/2); snippet F1 +0.0004 (1/1); lead -0.0111 (one page of 94).
    "text_precise_thorough": True,
    # --- dates ---
    # A /YYYY/MM/ permalink month bounds htmldate's search.
    "date_url_month": True,
    # A bare 1 January result gives way to the newest full date.
    "date_newest_for_january_first": True,
    # Before that, a full date the visible text writes in CJK form (2024年3月5日,
    # 2024년 3월 5일) replaces a bare 1 January guess. Cross-validated date within
    # tolerance +0.0052 (corpus-meta, folds 2/0; corpus 0/0), exact 0/0.
    "date_cjk_full_date": True,
    # A JSON-LD/meta statement beats an unsupported htmldate guess.
    "date_stated_over_guess": True,
    # A date introduced by "Last updated"/"Updated" is the modification date (and
    # not the publication date when a structured statement gives an earlier one).
    # Off: on the 1,035 dated dev pages it changed no publication date.
    "date_last_updated": False,
    # htmldate searches the shared parsed tree instead of parsing the markup again
    # (issue 19, parse once); that tree has no comments, so the date statements
    # some blogs keep in commented-out RDF come from "date_rdf_statement".
    "date_shared_tree": True,
    # A Dublin Core date in RDF markup (dc:date="…", usually inside a comment) is a
    # publication statement like a <meta> tag.
    "date_rdf_statement": True,
    # An itemprop="datePublished" or <time pubdate> statement beats an
    # unsupported htmldate guess (as JSON-LD and <meta> do).
    "date_itemprop_over_guess": True,
    # A guess that is only the UTC day of a timestamp the page also states with its
    # own offset gives way to the local day written there.
    "date_local_offset": True,
    # A date the page's text introduces as its publication ("Published: …",
    # "Erschienen am …") beats an htmldate guess no structured statement supports.
    "date_published_label": True,
    # A JSON-LD/meta publication date 2 to 62 days before the date in the URL's
    # path (a magazine issue's cover date) wins over it.
    "date_url_issue": True,
    # A stated DD-MM-YYYY / MM-DD-YYYY date is read when only one order is a date.
    "date_numeric_unambiguous": True,
    # The /YYYY/MM/ month does not move a guess the page's JSON-LD/meta states.
    "date_url_month_stated": True,
    # The local day of a publication time stated with its own offset beats a
    # guess one day from it.
    "date_offset_day_over_neighbour": True,
}

THRESHOLDS: dict[str, float] = {
    # Share of the <h1>'s words that the metadata headline must contain.
    "title_h1_agreement": 0.3,
    # Precise text below this share of the page's visible words triggers the recall pass.
    "text_recall_when_short": 0.1,
    # Chosen text below this share of the page's visible words triggers the full cascade.
    "text_thorough_when_short": 0.1,
}

# Candidate values bench/crossval.py chooses from inside the training folds.
THRESHOLD_GRID: dict[str, tuple[float, ...]] = {
    "title_h1_agreement": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "text_recall_when_short": (0.05, 0.1, 0.15, 0.2, 0.3),
    # 0.15 and above run the full cascade on twice as many pages: more CPU than
    # the extraction budget allows for the same cross-validated body F1.
    "text_thorough_when_short": (0.05, 0.1),
}


def on(name: str) -> bool:
    """Whether rule ``name`` is switched on."""
    return RULES[name]


def threshold(name: str) -> float:
    """The threshold of rule ``name``."""
    return THRESHOLDS[name]
