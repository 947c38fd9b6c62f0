"""The local S3 server `deskpemilu up` runs for BLOB_STORE=s3: started once, used, stopped."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from deskpemilu import runtime, s3local
from shared.blobstore import S3BlobStore
from tests.procs import free_port
from tests.s3server import missing_jar_message, s3proxy_jar

pytestmark = pytest.mark.integration


async def test_up_starts_s3proxy_with_kept_credentials_and_down_stops_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    jar = s3proxy_jar()
    if not jar.is_file():
        pytest.fail(missing_jar_message(jar))
    monkeypatch.setattr(runtime, "RUN_DIR", tmp_path)
    monkeypatch.setenv("S3PROXY_JAR", str(jar))
    monkeypatch.setenv("S3PROXY_PORT", str(free_port()))
    monkeypatch.setenv("BLOB_STORE", "s3")
    for name in ("S3_ENDPOINT_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)

    monkeypatch.setenv("S3_ENDPOINT_URL", "https://s3.cluster.example")
    assert not s3local.wanted()  # an S3 store elsewhere is left alone
    monkeypatch.delenv("S3_ENDPOINT_URL")
    assert s3local.wanted()

    try:
        s3local.start()
        first = s3local.pid()
        assert first is not None
        assert os.environ["S3_ENDPOINT_URL"] == s3local.url()
        kept = tmp_path / "s3proxy" / "credentials.env"
        assert kept.stat().st_mode & 0o777 == 0o600
        assert f"S3_SECRET_KEY={os.environ['S3_SECRET_KEY']}" in kept.read_text()
        properties = tmp_path / "s3proxy" / "s3proxy.properties"
        assert properties.stat().st_mode & 0o777 == 0o600
        assert "jclouds.provider=filesystem" in properties.read_text()

        store = S3BlobStore(
            endpoint_url=os.environ["S3_ENDPOINT_URL"],
            bucket="deskpemilu-photos",
            access_key=os.environ["S3_ACCESS_KEY"],
            secret_key=os.environ["S3_SECRET_KEY"],
        )
        await store.start()
        try:
            data = b"foto " + uuid.uuid4().bytes
            digest = await store.put(data, "image/jpeg")
            assert await store.get(digest) == data
        finally:
            await store.close()
        assert list((tmp_path / "s3proxy" / "data").rglob(digest))  # objects under the run folder

        s3local.start()  # a second `up`: the same server, the same credentials
        assert s3local.pid() == first
        assert "ready" in s3local.status_line()
    finally:
        stopped = s3local.stop()
    assert stopped and s3local.pid() is None
    assert "stopped" in s3local.status_line()
