"""Copy the nights a report needs from S3 to a local folder, and the report back.

The report is built from files (the night's output, its manifest and timings,
and the previous nights' outputs in the same folder). For an ``s3://`` output
those live in one S3 prefix: this module mirrors the newest few of them into a
temporary folder and uploads the finished page beside the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.s3 import download_file, list_keys, split_s3, upload_file
from crawler.watch.report.model import OUTPUT_SUFFIXES

MANIFEST_SUFFIX = ".manifest.json"
TIMINGS_SUFFIX = ".timings.json"


def mirror_nights(client: Any, output_uri: str, folder: Path, nights: int) -> Path:
    """Download ``output_uri`` and up to ``nights`` earlier published nights beside it.

    A night counts when its manifest is there too, as for local folders.
    Keys are time-stamped, so key order is run order. Returns the local copy
    of ``output_uri``.
    """
    bucket, key = split_s3(output_uri)
    prefix = key.rpartition("/")[0] + "/" if "/" in key else ""
    here = {k for k in list_keys(client, f"s3://{bucket}/{prefix}") if "/" not in k[len(prefix) :]}
    outputs = sorted(
        k for k in here if k.endswith(OUTPUT_SUFFIXES) and k + MANIFEST_SUFFIX in here and k <= key
    )
    if key not in outputs:
        raise FileNotFoundError(f"{output_uri} or its manifest is not on S3")
    for night in outputs[-(nights + 1) :]:
        for name in (night, night + MANIFEST_SUFFIX, night + TIMINGS_SUFFIX):
            if name in here:
                download_file(client, f"s3://{bucket}/{name}", folder / name[len(prefix) :])
    return folder / key[len(prefix) :]


def upload_beside(client: Any, output_uri: str, files: list[Path]) -> list[str]:
    """Upload local files next to ``output_uri`` under their own names; return their URIs."""
    base = output_uri.rpartition("/")[0]
    uris = []
    for path in files:
        uri = f"{base}/{path.name}"
        upload_file(client, path, uri)
        uris.append(uri)
    return uris
