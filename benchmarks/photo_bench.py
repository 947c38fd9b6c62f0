"""Photo storage benchmark: checks + content-addressed store of phone-sized C.Hasil photos.

Measures what one intake spends per photo before its Kafka publish: the checks (type sniffed,
full decode, EXIF read, upright served copy without EXIF, thumbnail, pHash) and the three
durable puts (original, served copy, thumbnail) into a blob store, with `--workers` photos in
flight. `--store fs` is the filesystem store (fsync per blob) in a temporary folder; `--store s3`
starts s3proxy (deploy/s3/s3proxy.sh, filesystem backend, signed requests) on a free port and
uses the S3 store against it. `--format HEIF` feeds HEIC photos instead of JPEG. Prints photos
stored per second and the storage one TPS needs (one photo per contest, `--contests` contests
per TPS), and the projection for Banyuasin.

    .venv/bin/python -m benchmarks.photo_bench --photos 60 --workers 2 --store s3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from shared.blobstore import BlobStore, FilesystemBlobStore, S3BlobStore
from shared.photos import SERVED_MIME, inspect_photo
from tests.photo_fixtures import form_photo
from tests.s3server import missing_jar_message, s3proxy_jar, s3proxy_s3

BANYUASIN_TPS = 2564


@contextlib.contextmanager
def blob_store(kind: str) -> Iterator[BlobStore]:
    """The store to measure, with its server when it needs one; removed afterwards."""
    if kind == "fs":
        with tempfile.TemporaryDirectory(prefix="photo-bench-") as folder:
            yield FilesystemBlobStore(Path(folder))
        return
    jar = s3proxy_jar()
    if not jar.is_file():
        raise SystemExit(missing_jar_message(jar))
    with s3proxy_s3(jar) as server:
        yield S3BlobStore(
            endpoint_url=server.endpoint_url,
            bucket="photo-bench",
            prefix=f"b{uuid.uuid4().hex[:8]}/",
            access_key=server.access_key,
            secret_key=server.secret_key,
        )


async def run(photos: int, workers: int, contests: int, side: int, kind: str, fmt: str) -> None:
    # A phone photo of the sheet: 3:4 and `side` px on its long side (the fixture's drawn sheet).
    inputs = [form_photo(seed, size=(side * 3 // 4, side), fmt=fmt) for seed in range(photos)]
    with blob_store(kind) as store:
        await store.start()
        try:
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for data in inputs:
                queue.put_nowait(data)
            digests: set[str] = set()
            checks_s: list[float] = []
            puts_s: list[float] = []

            async def worker() -> None:
                while not queue.empty():
                    data = queue.get_nowait()
                    t0 = time.perf_counter()
                    photo = await asyncio.to_thread(inspect_photo, data)
                    t1 = time.perf_counter()
                    stored = await asyncio.gather(
                        store.put(data, photo.mime),
                        store.put(photo.served, SERVED_MIME),
                        store.put(photo.thumbnail, SERVED_MIME),
                    )
                    puts_s.append(time.perf_counter() - t1)
                    checks_s.append(t1 - t0)
                    digests.update(stored)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            seconds = time.perf_counter() - started
            sizes = await asyncio.gather(*(store.size(d) for d in digests))
        finally:
            await store.close()
    stored_bytes = sum(size or 0 for size in sizes)
    per_photo = stored_bytes / photos
    per_tps = per_photo * contests
    original = sum(len(d) for d in inputs) / len(inputs)
    print(
        f"store {kind}: {photos} photos stored in {seconds:.2f} s = {photos / seconds:.1f} "
        f"photos/s ({workers} in flight, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
    )
    print(f"input: {side * 3 // 4}x{side} {fmt}, mean {original / 1024:.0f} KiB")
    print(
        f"per photo, median: checks {1000 * statistics.median(checks_s):.0f} ms, "
        f"three puts {1000 * statistics.median(puts_s):.0f} ms "
        f"(p90 {1000 * statistics.quantiles(puts_s, n=10)[-1]:.0f} ms)"
    )
    print(f"storage per photo (original + served + thumbnail): {per_photo / 1024:.0f} KiB")
    print(f"storage per TPS ({contests} contests, one photo each): {per_tps / 1024 / 1024:.2f} MiB")
    print(f"Banyuasin ({BANYUASIN_TPS} TPS): {per_tps * BANYUASIN_TPS / 1024**3:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--contests", type=int, default=5)
    parser.add_argument("--side", type=int, default=2000, help="long side of the photo, px")
    parser.add_argument("--store", choices=["fs", "s3"], default="fs")
    parser.add_argument("--format", choices=["JPEG", "HEIF"], default="JPEG")
    args = parser.parse_args()
    asyncio.run(run(args.photos, args.workers, args.contests, args.side, args.store, args.format))


if __name__ == "__main__":
    main()
