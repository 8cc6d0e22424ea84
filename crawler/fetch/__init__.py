"""Fetching: downloader middlewares, the address guard and its resolver, URL checks.

Other rooms import only :mod:`crawler.fetch.errors` (the exceptions
classification reads) and :mod:`crawler.fetch.urls` (the URL checks and the
one credential parser); the settings name the middlewares by path.
"""
