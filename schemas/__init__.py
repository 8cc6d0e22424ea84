"""The record contract: the pydantic model, its JSON Schema and a validating reader."""

from schemas.reader import RecordError, read_records
from schemas.record import FIELD_ORDER, SCHEMA_VERSION, Publication, SourceRecord, json_schema

__all__ = [
    "FIELD_ORDER",
    "SCHEMA_VERSION",
    "Publication",
    "RecordError",
    "SourceRecord",
    "json_schema",
    "read_records",
]
