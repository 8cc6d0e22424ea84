"""Project commands (``COMMANDS_MODULE``): our ``crawl`` replaces Scrapy's."""
