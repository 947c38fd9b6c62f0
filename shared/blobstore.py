"""Content-addressed blob storage: bytes are stored under their SHA-256, once.

One interface (`BlobStore`), two stores: `FilesystemBlobStore` under the run folder (the
default, one machine) and `S3BlobStore` for any S3-compatible server (a cluster). Both are
durable when `put` returns: the filesystem store fsyncs the file and its folder before the
rename is visible, the S3 store returns after the server acknowledged the PUT.

The same bytes put twice are one blob: the key is the hash, and a second put finds it there.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    """The key of these bytes."""
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """The digest if it is 64 lowercase hex digits; ValueError otherwise (no path tricks)."""
    if not _DIGEST.match(digest):
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
    return digest


class BlobStore(Protocol):
    """Bytes by SHA-256: put returns the digest once the bytes are durable."""

    async def start(self) -> None:
        """Open connections, create the folder or bucket."""

    async def close(self) -> None:
        """Release connections."""

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Store the bytes (once) and return their SHA-256 hex digest."""

    async def get(self, digest: str) -> bytes | None:
        """The bytes under this digest, None when absent."""

    async def exists(self, digest: str) -> bool:
        """True when bytes are stored under this digest."""

    async def size(self, digest: str) -> int | None:
        """Stored size in bytes, None when absent."""


def _fanout(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class FilesystemBlobStore:
    """Blobs as files `<root>/ab/cd/<digest>`, written to a temporary file, fsynced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    def _path(self, digest: str) -> Path:
        return self.root / _fanout(check_digest(digest))

    def _write(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> str:
        digest = sha256_hex(data)
        await asyncio.to_thread(self._write, digest, data)
        return digest

    def _read(self, digest: str) -> bytes | None:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            return None

    async def get(self, digest: str) -> bytes | None:
        return await asyncio.to_thread(self._read, digest)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self._path(digest).exists)

    async def size(self, digest: str) -> int | None:
        def stat() -> int | None:
            try:
                return self._path(digest).stat().st_size
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(stat)


class S3BlobStore:
    """Blobs as objects `<prefix>ab/cd/<digest>` in one bucket of an S3-compatible server."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.prefix = prefix
        self._client: S3Client | None = None
        self._context: Any = None

    async def start(self) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        session = get_session()
        self._context = session.create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=AioConfig(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        self._client = await self._context.__aenter__()
        try:
            await self._ensure_bucket(self._client)
        except BaseException:  # refused credentials, no server: release the connection pool
            await self.close()
            raise

    async def _ensure_bucket(self, client: S3Client) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
        except Exception:  # absent bucket: create it (idempotent on S3 servers)
            try:
                await client.create_bucket(Bucket=self.bucket)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def close(self) -> None:
        if self._context is not None:
            await self._context.__aexit__(None, None, None)
        self._client = None
        self._context = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3BlobStore.start() was not called")
        return self._client

    def _key(self, digest: str) -> str:
        return self.prefix + _fanout(check_digest(digest))

    async def put(self, data: bytes, content_type: str = "application/octet-stream") -> str:
        digest = sha256_hex(data)
        if await self.exists(digest):
            return digest
        await self.client.put_object(
            Bucket=self.bucket, Key=self._key(digest), Body=data, ContentType=content_type
        )
        return digest

    async def get(self, digest: str) -> bytes | None:
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=self._key(digest))
        except self.client.exceptions.NoSuchKey:
            return None
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def _head(self, digest: str) -> int | None:
        try:
            answer = await self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return None
            raise
        return int(answer["ContentLength"])

    async def exists(self, digest: str) -> bool:
        return await self._head(digest) is not None

    async def size(self, digest: str) -> int | None:
        return await self._head(digest)


class BlobSettings(BaseSettings):
    """Which store photos go to: BLOB_STORE=fs (BLOB_DIR) or s3 (S3_* variables)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    blob_store: Literal["fs", "s3"] = Field(default="fs", validation_alias="BLOB_STORE")
    blob_dir: Path = Field(default=Path(".run/blobs"), validation_alias="BLOB_DIR")
    s3_endpoint_url: str = Field(default="", validation_alias="S3_ENDPOINT_URL")
    s3_bucket: str = Field(default="deskpemilu-photos", validation_alias="S3_BUCKET")
    s3_access_key: SecretStr = Field(default=SecretStr(""), validation_alias="S3_ACCESS_KEY")
    s3_secret_key: SecretStr = Field(default=SecretStr(""), validation_alias="S3_SECRET_KEY")
    s3_region: str = Field(default="us-east-1", validation_alias="S3_REGION")


def blob_store_from(settings: BlobSettings) -> BlobStore:
    """The store these settings name."""
    if settings.blob_store == "s3":
        return S3BlobStore(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            region=settings.s3_region,
        )
    return FilesystemBlobStore(settings.blob_dir)
