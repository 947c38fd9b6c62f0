"""Photo checks of a C.Hasil photo, pure functions (bytes in, checked photo or PhotoError out).

`inspect_photo` takes the uploaded bytes and gives back what the desk keeps:
* the original's SHA-256 (the photo's identity: the same bytes twice are one photo),
* the real type sniffed from the bytes (JPEG, PNG, WebP, or HEIC/HEIF as iPhones and many
  Android phones take them, decoded by pillow-heif; the file name and the declared content
  type are not trusted), width and height within limits,
* EXIF capture time and GPS position kept as metadata,
* the served image: upright, re-encoded as JPEG without any EXIF (no GPS leaves the desk;
  a browser that cannot show HEIC still shows every photo),
* a thumbnail, and a perceptual hash (imagehash's pHash) to find a photo reused for two TPS.

A truncated file, a file that is no image, or one too large gets a PhotoError (a 4xx with
a machine code and Indonesian and English text) before anything is stored.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import imagehash
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import BilingualError

# Pillow opens HEIC/HEIF through pillow-heif's plugin (format name "HEIF"); it applies the
# file's own rotation when decoding and resets the EXIF orientation, so nothing turns twice.
pillow_heif.register_heif_opener()

MIME_OF_FORMAT = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
# ISO-BMFF brands of HEIC/HEIF still images ("ftyp" box at byte 4): a file with one of them
# that does not open is a damaged HEIC, not some other kind of file.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
SERVED_FORMAT = "JPEG"
SERVED_MIME = "image/jpeg"

# Pillow's EXIF tag numbers (the EXIF and GPS sub-IFDs and the tags read from them).
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 36867
_DATETIME = 306


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    """What a photo may be: at most max_bytes, sides between min_side and max_side pixels."""

    max_bytes: int = 12 * 1024 * 1024
    min_side: int = 200
    max_side: int = 8000
    thumb_side: int = 320
    served_side: int = 2400
    served_quality: int = 85


@dataclass(frozen=True, slots=True)
class InspectedPhoto:
    """A photo that passed the checks, with its metadata and the derived images."""

    sha256: str
    mime: str
    width: int
    height: int
    size: int
    taken_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None
    phash: str
    served: bytes  # upright, no EXIF
    thumbnail: bytes  # JPEG, longest side thumb_side


class PhotoError(BilingualError):
    """A photo refused by a check (4xx, nothing stored)."""


def _refuse(code: str, pesan: str, message: str, status: int = 422) -> PhotoError:
    return PhotoError(code, pesan, message, status=status)


def _damaged() -> PhotoError:
    return _refuse(
        "PHOTO_DAMAGED",
        "Foto rusak atau terpotong; kirim ulang fotonya.",
        "The photo is damaged or truncated; send it again.",
    )


def _dms(value: object) -> float | None:
    try:
        parts = [float(part) for part in value]  # type: ignore[attr-defined]
        return parts[0] + parts[1] / 60 + parts[2] / 3600
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None


def exif_metadata(image: Image.Image) -> tuple[datetime | None, float | None, float | None]:
    """EXIF capture time (as UTC when no offset is known) and GPS latitude/longitude."""
    exif = image.getexif()
    taken_at: datetime | None = None
    raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if isinstance(raw, str):
        try:
            taken_at = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(
                tzinfo=UTC
            )
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(_GPS_IFD)
    lat, lon = _dms(gps.get(2)), _dms(gps.get(4))
    if lat is not None and str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if lon is not None and str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return taken_at, lat, lon


def _looks_heif(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _jpeg(image: Image.Image, side: int, quality: int) -> bytes:
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, format=SERVED_FORMAT, quality=quality, optimize=True)  # no exif= : none kept
    return out.getvalue()


def inspect_photo(data: bytes, limits: PhotoLimits = PhotoLimits()) -> InspectedPhoto:
    """Check a photo and derive what is kept and served; PhotoError when it is refused."""
    if not data:
        raise _refuse("PHOTO_EMPTY", "Berkas foto kosong.", "The photo file is empty.")
    if len(data) > limits.max_bytes:
        mib = limits.max_bytes / (1024 * 1024)
        raise _refuse(
            "PHOTO_TOO_LARGE",
            f"Foto terlalu besar (paling besar {mib:.0f} MiB).",
            f"The photo is too large (at most {mib:.0f} MiB).",
            status=413,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(MIME_OF_FORMAT))
            fmt = str(image.format)
            width, height = image.size
            if max(width, height) > limits.max_side or min(width, height) < limits.min_side:
                raise _refuse(
                    "PHOTO_DIMENSIONS",
                    f"Ukuran foto {width}x{height} piksel di luar batas "
                    f"({limits.min_side}-{limits.max_side} piksel per sisi).",
                    f"Photo size {width}x{height} px is outside the limits "
                    f"({limits.min_side}-{limits.max_side} px per side).",
                )
            image.load()  # decodes everything: a truncated file fails here
    except PhotoError:
        raise
    except UnidentifiedImageError as exc:
        if _looks_heif(data):  # a HEIC whose boxes are cut off cannot even be identified
            raise _damaged() from exc
        raise _refuse(
            "PHOTO_NOT_IMAGE",
            "Berkas ini bukan foto JPEG, PNG, WebP atau HEIC.",
            "This file is not a JPEG, PNG, WebP or HEIC image.",
            status=415,
        ) from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise _damaged() from exc
    taken_at, lat, lon = exif_metadata(image)
    upright = ImageOps.exif_transpose(image)
    return InspectedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        mime=MIME_OF_FORMAT[fmt],
        width=width,
        height=height,
        size=len(data),
        taken_at=taken_at,
        gps_lat=lat,
        gps_lon=lon,
        phash=str(imagehash.phash(upright)),
        served=_jpeg(upright, limits.served_side, limits.served_quality),
        thumbnail=_jpeg(upright, limits.thumb_side, 80),
    )


def phash_distance(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes (hex strings of equal length)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


# pHash distance at or below which two photos are taken to be the same picture (re-encoded,
# resized or lightly cropped); two photos of different C.Hasil sheets differ by far more.
NEAR_DUPLICATE_BITS = 6
