"""JSON codec for Kafka values and keys: pydantic's Rust serializer out, validated models in."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter

T = TypeVar("T")


def encode(model: BaseModel) -> bytes:
    """Serialise an event model to compact JSON bytes."""
    return model.__pydantic_serializer__.to_json(model)


def encode_with(model: BaseModel, field: str, serialised: bytes) -> bytes:
    """encode(model), with `field` taken as the JSON `serialised` already made of it.

    For a part serialised once for another purpose too (the intake hashes the form it
    publishes): the rest of the model is serialised, and the part goes in as the last member.
    """
    rest = model.__pydantic_serializer__.to_json(model, exclude={field})
    return b'%s,"%s":%s}' % (rest[:-1], field.encode(), serialised)


def decode(adapter: TypeAdapter[T], data: bytes) -> T:
    """Parse and validate JSON bytes into the adapter's type (raises pydantic.ValidationError)."""
    return adapter.validate_json(data)


def key_for_tps(tps_code: str) -> bytes:
    """Partition key: every version of one TPS lands on one partition, in order."""
    return tps_code.encode()
