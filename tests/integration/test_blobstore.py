"""Both blob stores pass the same tests: filesystem under a folder, S3 against a real s3proxy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from shared.blobstore import BlobStore, FilesystemBlobStore, S3BlobStore, sha256_hex
from tests.s3server import S3Server


@pytest.fixture(params=["fs", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    blobs: BlobStore
    if request.param == "fs":
        blobs = FilesystemBlobStore(tmp_path / "blobs")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        blobs = S3BlobStore(
            endpoint_url=server.endpoint_url,
            bucket="deskpemilu-test",  # one bucket for the session; a prefix per test
            prefix=f"t{uuid.uuid4().hex[:12]}/",
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
    await blobs.start()
    try:
        yield blobs
    finally:
        await blobs.close()


async def test_put_returns_sha256_and_get_returns_the_bytes(store: BlobStore) -> None:
    data = b"\xff\xd8\xff" + uuid.uuid4().bytes * 1000
    digest = await store.put(data, "image/jpeg")
    assert digest == sha256_hex(data)
    assert await store.get(digest) == data
    assert await store.exists(digest)
    assert await store.size(digest) == len(data)


async def test_absent_digest_is_none(store: BlobStore) -> None:
    missing = sha256_hex(b"never stored " + uuid.uuid4().bytes)
    assert await store.get(missing) is None
    assert not await store.exists(missing)
    assert await store.size(missing) is None


async def test_same_bytes_twice_are_one_blob(store: BlobStore) -> None:
    data = b"same photo " + uuid.uuid4().bytes
    first, second = await asyncio.gather(store.put(data), store.put(data))
    assert first == second == sha256_hex(data)
    assert await store.get(first) == data


async def test_different_bytes_do_not_collide(store: BlobStore) -> None:
    a, b = b"a" + uuid.uuid4().bytes, b"b" + uuid.uuid4().bytes
    da, db = await store.put(a), await store.put(b)
    assert da != db
    assert (await store.get(da), await store.get(db)) == (a, b)


async def test_empty_and_large_blobs(store: BlobStore) -> None:
    large = bytes(range(256)) * 40_000  # 10 MiB
    for data in (b"", large):
        digest = await store.put(data)
        assert await store.get(digest) == data


async def test_a_malformed_digest_is_refused(store: BlobStore) -> None:
    for bad in ("../../etc/passwd", "ABC", "0" * 63, "g" * 64):
        with pytest.raises(ValueError):
            await store.get(bad)


def test_filesystem_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    async def run() -> None:
        blobs = FilesystemBlobStore(tmp_path)
        await blobs.start()
        for i in range(5):
            await blobs.put(f"blob {i}".encode())

    asyncio.run(run())
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(names) == 5
    assert not [n for n in names if n.startswith(".tmp-")]


async def test_the_s3_server_refuses_a_wrong_secret(s3_server: S3Server) -> None:
    blobs = S3BlobStore(
        endpoint_url=s3_server.endpoint_url,
        bucket="deskpemilu-test",
        prefix=f"t{uuid.uuid4().hex[:12]}/",
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key + "-wrong",
    )
    with pytest.raises(ClientError) as refused:
        await blobs.start()  # the bucket check is signed with the wrong secret
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
