"""The project's own signals (sent through the crawler's signal manager, like Scrapy's)."""

from __future__ import annotations

#: Sent by the publish sequence once a healthy output and its manifest are in
#: place, before the ``latest`` pointer moves. Arguments: ``target`` (the
#: local :class:`~pathlib.Path` of the published file) and ``manifest`` (its
#: manifest, a dict). A receiver that raises makes the publication fail: the
#: pointer then stays on the previous night (the incremental state commits here).
output_published = object()
