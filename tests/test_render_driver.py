"""The Node.js options Playwright's driver is started with (crawler.render.handler)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("scrapy_playwright")

from playwright._impl import transport

from crawler.render.handler import DRIVER_NODE_OPTIONS, driver_node_options


def test_the_driver_gets_the_options_after_the_environments_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NODE_OPTIONS", "--no-warnings")
    with driver_node_options(DRIVER_NODE_OPTIONS):
        env = transport.get_driver_env()  # what Playwright starts its driver with
    assert env["NODE_OPTIONS"] == " ".join(["--no-warnings", *DRIVER_NODE_OPTIONS])
    # the crawl's own environment, and the driver's outside a start, are left alone
    assert os.environ["NODE_OPTIONS"] == "--no-warnings"
    assert transport.get_driver_env()["NODE_OPTIONS"] == "--no-warnings"


def test_without_options_in_the_environment_only_ours_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NODE_OPTIONS", raising=False)
    with driver_node_options(("--max-semi-space-size=1",)):
        assert transport.get_driver_env()["NODE_OPTIONS"] == "--max-semi-space-size=1"
    assert "NODE_OPTIONS" not in transport.get_driver_env()


def test_the_wrapper_is_removed_when_the_start_fails() -> None:
    original = transport.get_driver_env
    with pytest.raises(RuntimeError), driver_node_options(DRIVER_NODE_OPTIONS):
        raise RuntimeError("the driver did not start")
    assert transport.get_driver_env is original
