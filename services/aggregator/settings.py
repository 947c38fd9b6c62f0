"""Aggregator settings, from environment variables."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class AggregatorSettings(CommonSettings):
    """Where to consume and publish, and the ops port."""

    consumer_group: str = Field(default="aggregator", validation_alias="AGGREGATOR_GROUP")
    ops_host: str = Field(default="127.0.0.1", validation_alias="AGGREGATOR_HOST")
    ops_port: int = Field(default=8003, validation_alias="AGGREGATOR_PORT")
    max_batch: int = Field(default=2000, ge=1, validation_alias="AGGREGATOR_MAX_BATCH")
