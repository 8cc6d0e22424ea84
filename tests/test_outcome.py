"""The status table of DESIGN.md, as pure rules."""

from __future__ import annotations

import zlib

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)

from crawler.fetch.errors import HostNotFoundError
from pipelines.outcome import from_failure, from_http_status


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, "ok"),
        (204, "ok"),
        (404, "dead"),
        (410, "dead"),
        (400, "dead"),
        (451, "dead"),
        (401, "paywall"),
        (402, "paywall"),
        (403, "error"),
        (407, "error"),
        (429, "error"),
        (500, "error"),
        (503, "error"),
        (304, "error"),
        (999, "error"),
    ],
)
def test_http_status_table(code: int, status: str) -> None:
    outcome = from_http_status(code)
    assert outcome.status == status
    if status != "ok":
        assert outcome.error == f"http_{code}"
        assert outcome.detail and str(code) in outcome.detail


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (HostNotFoundError("address 'x.invalid' not found"), "dead", "dns"),
        (
            CannotResolveHostError("DNS lookup failed: no results for hostname lookup: x."),
            "error",
            "dns",
        ),
        (DownloadTimeoutError("took longer than 30 seconds"), "error", "timeout"),
        (DownloadConnectionRefusedError("Connection refused"), "error", "connection"),
        (ResponseDataLossError("lost"), "error", "connection"),
        (
            DownloadCancelledError(
                "Cancelling download of x: expected response size (99) "
                "larger than download max size (10)."
            ),
            "error",
            "too_large",
        ),
        (IgnoreRequest("Forbidden by robots.txt"), "error", "robots"),
        (IgnoreRequest("max redirections reached"), "error", "too_many_redirects"),
        (zlib.error("invalid block type"), "error", "decoding"),
        (RuntimeError("something new"), "error", "fetch"),
    ],
)
def test_failure_table(exc: BaseException, status: str, error: str) -> None:
    outcome = from_failure(exc)
    assert (outcome.status, outcome.error) == (status, error)
    assert outcome.detail
