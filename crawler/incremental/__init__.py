"""Incremental re-crawls: the state store, its extension, the conditional-request
middleware and the record stage, in one room, keyed by one source key."""
