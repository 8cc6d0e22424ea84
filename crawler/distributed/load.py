"""``python -m crawler.distributed.load``: see :mod:`crawler.distributed.loader`."""

from crawler.distributed.loader import main

if __name__ == "__main__":
    raise SystemExit(main())
