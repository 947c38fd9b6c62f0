"""Photo storage benchmark: checks + content-addressed store of phone-sized C.Hasil photos.

Measures what one intake spends per photo before its Kafka publish: the checks (type sniffed,
full decode, EXIF read, upright served copy without EXIF, thumbnail, pHash) and the three
durable puts (original, served copy, thumbnail; fsync) into the filesystem blob store, with
`--workers` photos in flight. Prints photos stored per second and the storage one TPS needs
(one photo per contest, `--contests` contests per TPS), and the projection for Banyuasin.

    .venv/bin/python -m benchmarks.photo_bench --photos 60 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from shared.blobstore import FilesystemBlobStore
from shared.photos import SERVED_MIME, inspect_photo
from tests.photo_fixtures import form_photo

BANYUASIN_TPS = 2564


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


async def run(photos: int, workers: int, contests: int, side: int) -> None:
    # A phone photo of the sheet: 3:4 and `side` px on its long side (the fixture's drawn sheet).
    inputs = [form_photo(seed, size=(side * 3 // 4, side)) for seed in range(photos)]
    with tempfile.TemporaryDirectory(prefix="photo-bench-") as folder:
        store = FilesystemBlobStore(Path(folder))
        await store.start()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for data in inputs:
            queue.put_nowait(data)
        stored = 0

        async def worker() -> None:
            nonlocal stored
            while not queue.empty():
                data = queue.get_nowait()
                photo = await asyncio.to_thread(inspect_photo, data)
                await asyncio.gather(
                    store.put(data, photo.mime),
                    store.put(photo.served, SERVED_MIME),
                    store.put(photo.thumbnail, SERVED_MIME),
                )
                stored += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        seconds = time.perf_counter() - started
        on_disk = _bytes_under(Path(folder))
    per_photo = on_disk / stored
    per_tps = per_photo * contests
    original = sum(len(d) for d in inputs) / len(inputs)
    print(
        f"photos stored: {stored} in {seconds:.2f} s = {stored / seconds:.1f} photos/s "
        f"({workers} in flight, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
    )
    print(f"input: {side * 3 // 4}x{side} JPEG, mean {original / 1024:.0f} KiB")
    print(f"storage per photo (original + served + thumbnail): {per_photo / 1024:.0f} KiB")
    print(f"storage per TPS ({contests} contests, one photo each): {per_tps / 1024 / 1024:.2f} MiB")
    print(f"Banyuasin ({BANYUASIN_TPS} TPS): {per_tps * BANYUASIN_TPS / 1024**3:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--contests", type=int, default=5)
    parser.add_argument("--side", type=int, default=2000, help="long side of the photo, px")
    args = parser.parse_args()
    asyncio.run(run(args.photos, args.workers, args.contests, args.side))


if __name__ == "__main__":
    main()
