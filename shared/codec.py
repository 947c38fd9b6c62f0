"""JSON codec for Kafka values and keys: pydantic's Rust serializer out, validated models in."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")


def encode(model: BaseModel) -> bytes:
    """Serialise an event model to compact JSON bytes."""
    return model.__pydantic_serializer__.to_json(model)


def decode(adapter: TypeAdapter[T], data: bytes) -> T:
    """Parse and validate JSON bytes into the adapter's type (raises pydantic.ValidationError)."""
    return adapter.validate_json(data)


def key_for_tps(tps_code: str) -> bytes:
    """Partition key: every version of one TPS lands on one partition, in order."""
    return tps_code.encode()
