"""Photo checks: type from the bytes, limits, EXIF kept as metadata and stripped, pHash."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from shared.photos import (
    NEAR_DUPLICATE_BITS,
    PhotoError,
    PhotoLimits,
    inspect_photo,
    phash_distance,
)
from tests.photo_fixtures import form_photo

DEFAULT_LIMITS = PhotoLimits()


def test_a_jpeg_keeps_time_and_gps_as_metadata_and_serves_none_of_it() -> None:
    data = form_photo(1)
    photo = inspect_photo(data)
    assert photo.mime == "image/jpeg"
    assert (photo.width, photo.height) == (900, 1200)
    assert photo.taken_at is not None and photo.taken_at.isoformat() == "2024-02-14T13:05:09+00:00"
    assert photo.gps_lat == pytest.approx(-(2 + 54 / 60 + 30.5 / 3600))
    assert photo.gps_lon == pytest.approx(104 + 45 / 60 + 12.25 / 3600)
    assert Image.open(io.BytesIO(data)).getexif()  # the original has EXIF...
    for derived in (photo.served, photo.thumbnail):
        image = Image.open(io.BytesIO(derived))
        assert image.format == "JPEG"
        assert not image.getexif()  # ...what is served has none
        assert b"Exif" not in derived[:200]
    thumb = Image.open(io.BytesIO(photo.thumbnail))
    assert max(thumb.size) == PhotoLimits().thumb_side


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_sniffed_from_the_bytes(fmt: str, mime: str) -> None:
    photo = inspect_photo(form_photo(2, fmt=fmt))
    assert photo.mime == mime
    assert photo.taken_at is None and photo.gps_lat is None


def test_a_heic_is_sniffed_kept_with_its_exif_and_served_as_jpeg() -> None:
    data = form_photo(7, fmt="HEIF")  # a real HEIC written by pillow-heif (libheif, x265)
    assert data[4:12] == b"ftypheic"
    photo = inspect_photo(data)
    assert photo.mime == "image/heic"
    assert (photo.width, photo.height) == (900, 1200)
    assert photo.taken_at is not None and photo.taken_at.isoformat() == "2024-02-14T13:05:09+00:00"
    assert photo.gps_lat == pytest.approx(-(2 + 54 / 60 + 30.5 / 3600))
    for derived in (photo.served, photo.thumbnail):
        image = Image.open(io.BytesIO(derived))
        assert image.format == "JPEG"
        assert not image.getexif()
    assert Image.open(io.BytesIO(photo.served)).size == (900, 1200)
    # The same sheet as a JPEG is the same picture to the reuse check.
    jpeg = inspect_photo(form_photo(7))
    assert phash_distance(photo.phash, jpeg.phash) <= NEAR_DUPLICATE_BITS
    assert photo.sha256 != jpeg.sha256


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_heic_is_refused_as_damaged(keep: float) -> None:
    data = form_photo(8, fmt="HEIF")
    assert _code(data[: int(len(data) * keep)])[:2] == ("PHOTO_DAMAGED", 422)


def _code(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> tuple[str, int, str, str]:
    with pytest.raises(PhotoError) as caught:
        inspect_photo(data, limits)
    error = caught.value
    assert error.pesan and error.message and error.pesan != error.message
    return error.code, error.status, error.pesan, error.message


def test_a_truncated_jpeg_is_refused_as_damaged() -> None:
    data = form_photo(3)
    assert _code(data[: len(data) // 2])[:2] == ("PHOTO_DAMAGED", 422)


def test_text_and_other_image_types_are_refused() -> None:
    assert _code(b"TPS 003 PPWP 01=120 02=98")[:2] == ("PHOTO_NOT_IMAGE", 415)
    gif = io.BytesIO()
    Image.new("RGB", (400, 400)).save(gif, format="GIF")
    assert _code(gif.getvalue())[:2] == ("PHOTO_NOT_IMAGE", 415)
    assert _code(b"")[0] == "PHOTO_EMPTY"


def test_size_and_dimension_limits() -> None:
    data = form_photo(4)
    assert _code(data, PhotoLimits(max_bytes=len(data) - 1))[:2] == ("PHOTO_TOO_LARGE", 413)
    assert _code(data, PhotoLimits(max_side=1000))[0] == "PHOTO_DIMENSIONS"
    assert _code(form_photo(4, size=(150, 150)))[0] == "PHOTO_DIMENSIONS"


def test_the_same_bytes_have_the_same_identity() -> None:
    data = form_photo(5)
    assert inspect_photo(data).sha256 == inspect_photo(bytes(data)).sha256
    assert inspect_photo(data).sha256 != inspect_photo(form_photo(6)).sha256


def _recompressed(data: bytes, scale: float, quality: int) -> bytes:
    image: Image.Image = Image.open(io.BytesIO(data))
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_phash_tells_a_reused_photo_from_a_different_one_over_many_sheets() -> None:
    """20 sheets: every re-encoded copy is near, every pair of different sheets is far."""
    sheets = [inspect_photo(form_photo(seed)) for seed in range(20)]
    copies = [inspect_photo(_recompressed(form_photo(seed), 0.7, 55)) for seed in range(20)]
    near = [phash_distance(a.phash, b.phash) for a, b in zip(sheets, copies, strict=True)]
    far = [phash_distance(a.phash, b.phash) for a, b in itertools.combinations(sheets, 2)]
    assert max(near) <= NEAR_DUPLICATE_BITS
    assert min(far) > NEAR_DUPLICATE_BITS
