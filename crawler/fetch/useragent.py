"""An honest User-Agent naming the project and whom to contact."""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

PROJECT_AGENT = "sources-crawler/0.1"


class UserAgentAddon:
    """Scrapy add-on: an honest User-Agent naming the project and ``CONTACT_URL``.

    Applies unless ``USER_AGENT`` was set explicitly (on the command line or
    elsewhere above project settings).
    """

    def update_settings(self, settings: BaseSettings) -> None:
        """Derive ``USER_AGENT`` from ``CONTACT_URL``."""
        priority = settings.getpriority("USER_AGENT") or 0
        if priority > SETTINGS_PRIORITIES["project"]:
            return
        contact = settings.get("CONTACT_URL")
        agent = f"{PROJECT_AGENT} (+{contact})" if contact else PROJECT_AGENT
        settings.set("USER_AGENT", agent, priority="addon")
