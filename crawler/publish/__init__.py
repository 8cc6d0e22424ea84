"""Publishing a night: feed storages, manifest, spool, S3 uploads, lock, latest pointer
and exit codes."""
