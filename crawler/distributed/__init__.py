"""Distributed mode: many ``scrapy crawl sources`` workers over one Redis (scrapy-redis).

Setting ``REDIS_URL`` switches a crawl into a worker of the run named by
``RUN_ID`` (see :mod:`crawler.distributed.addon`). ``python -m
crawler.distributed.load`` puts a sources list into Redis, the workers share
scrapy-redis's scheduler queue and duplicate filter, and ``python -m
crawler.distributed.finish`` merges their part files into the night's output.
"""
