"""Real photo bytes for the tests: a drawn C.Hasil-like sheet, with EXIF time and GPS."""

from __future__ import annotations

import io
import random

import pillow_heif
from PIL import Image, ImageDraw

pillow_heif.register_heif_opener()  # form_photo(fmt="HEIF") writes a real HEIC

BANYUASIN_LAT = (2.0, 54.0, 30.5)  # 2°54'30.5" S
BANYUASIN_LON = (104.0, 45.0, 12.25)  # 104°45'12.25" E


def form_photo(
    seed: int,
    *,
    size: tuple[int, int] = (900, 1200),
    fmt: str = "JPEG",
    exif: bool = True,
    taken: str = "2024:02:14 13:05:09",
) -> bytes:
    """A sheet with a grid and seeded numbers: different seeds look different to a pHash."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(40):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        shade = rng.randrange(0, 160)
        draw.rectangle(
            (x0, y0, x0 + rng.randrange(20, w // 2), y0 + rng.randrange(10, h // 4)),
            fill=(shade, shade, shade + 40),
        )
    for row in range(12):
        y = 80 + row * (h - 160) // 12
        draw.line((40, y, w - 40, y), fill=(0, 0, 0), width=3)
        draw.text((60, y + 10), f"{rng.randrange(0, 300):03d}", fill=(0, 0, 120))
    out = io.BytesIO()
    if exif and fmt in ("JPEG", "HEIF"):
        tags = Image.Exif()
        tags[306] = taken
        tags[0x8825] = {1: "S", 2: BANYUASIN_LAT, 3: "E", 4: BANYUASIN_LON}
        image.save(out, format=fmt, quality=90, exif=tags)
    else:
        image.save(out, format=fmt)
    return out.getvalue()
