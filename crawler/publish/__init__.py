"""Publishing a night: feed storages, the one publish sequence (sequence.py), manifest,
record counts, spool, S3 uploads, lock, latest pointer, exit codes and the project's signals."""
