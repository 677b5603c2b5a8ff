"""Photos of a result, stored on disk under the photos folder and named by their SHA-256.

The folder is `CHECKONCE_PHOTOS_DIR` when set, else `var/photos`; callers may pass their own.
A photo is checked before anything is written: at most MAX_PHOTO_BYTES, a JPEG, PNG or WebP
by its first bytes (the declared type and file name are not trusted), at most
MAX_PHOTO_PIXELS pixels by its header, then decoded in full with Pillow (`verify`, then
`load`: a truncated or damaged picture is refused). What is stored is the picture re-encoded
from its pixels, in its own format and turned upright: no metadata (EXIF with the phone's
location and serial number), no bytes appended after the image (an HTML page hidden behind a
PNG). Files are written once per content (`ab/abcdef….jpg`), atomically, so the same picture
attached twice is one file and a stored file can be verified against its name."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.errors import CheckOnceError, Conflict
from checkonce.findings.models import ResultPhoto, TaskResult

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# 40 megapixels: above any phone camera; a small file declaring more is a decompression bomb.
MAX_PHOTO_PIXELS = 40_000_000
MAX_PHOTOS_PER_RESULT = 20
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
DEFAULT_PHOTOS_DIR = Path("var/photos")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def photos_dir(folder: Path | str | None = None) -> Path:
    """The folder photos are stored under: `folder`, else CHECKONCE_PHOTOS_DIR, else var/photos."""
    if folder is not None:
        return Path(folder)
    configured = os.environ.get("CHECKONCE_PHOTOS_DIR", "").strip()
    return Path(configured) if configured else DEFAULT_PHOTOS_DIR


def sniff_image_type(data: bytes) -> str | None:
    """The image type by magic number, None when it is not a JPEG, PNG or WebP."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def photo_path(folder: Path, sha256: str, content_type: str) -> Path:
    return folder / sha256[:2] / f"{sha256}.{EXTENSIONS[content_type]}"


def check_photo(data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """The content type of a photo by its size and first bytes; a clear error otherwise."""
    if not data:
        raise CheckOnceError("照片为空")
    if len(data) > max_bytes:
        raise CheckOnceError(
            f"照片 {len(data) / 1024 / 1024:.1f} MB，超过 {max_bytes / 1024 / 1024:.0f} MB 上限",
            code="file_too_large",
        )
    content_type = sniff_image_type(data)
    if content_type is None:
        raise CheckOnceError("只接受 JPEG、PNG 或 WebP 格式的照片")
    return content_type


def clean_photo(
    data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS
) -> tuple[bytes, str]:
    """(the picture re-encoded without metadata or trailing bytes, its content type) of an
    acceptable photo: decoded in full, at most `max_pixels`; a clear error otherwise."""
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    content_type = check_photo(data, max_bytes=max_bytes)
    fmt = PILLOW_FORMATS[content_type]
    damaged = CheckOnceError("照片文件已损坏或不完整，请重新拍摄或上传", code="damaged_image")
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated picture is refused, never padded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise CheckOnceError(
                        f"照片 {width}×{height} 像素，超过 {max_pixels / 1_000_000:.0f} 百万像素上限",
                        code="image_too_large",
                    )
                probe.verify()  # structure and checksums, without decoding the pixels
            with Image.open(io.BytesIO(data), formats=[fmt]) as picture:
                picture.load()  # every pixel decoded: a truncated file fails here
                upright = ImageOps.exif_transpose(picture) or picture
                clean = _reencode(upright, fmt)
    except CheckOnceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CheckOnceError(
            f"照片像素过多，超过 {max_pixels / 1_000_000:.0f} 百万像素上限", code="image_too_large"
        ) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ):
        raise damaged from None
    return clean, content_type


def _reencode(picture, fmt: str) -> bytes:
    """The pixels only, in the same format (no EXIF, ICC, text chunks or trailing data)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        rgb = picture if picture.mode in ("RGB", "L") else picture.convert("RGB")
        rgb.save(out, "JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        keep = (
            picture
            if picture.mode in ("1", "L", "LA", "P", "RGB", "RGBA")
            else picture.convert("RGBA")
        )
        keep.save(out, "PNG", optimize=True)
    else:
        keep = picture if picture.mode in ("RGB", "RGBA") else picture.convert("RGBA")
        keep.save(out, "WEBP", quality=90)
    return out.getvalue()


def store_file(folder: Path, data: bytes, content_type: str) -> tuple[str, Path]:
    """Write the content under its hash unless already there; returns (sha256, path)."""
    digest = hashlib.sha256(data).hexdigest()
    path = photo_path(folder, digest, content_type)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)  # readers never see half a file
    return digest, path


def add_photo(
    *,
    db_session: Session,
    result: TaskResult,
    data: bytes,
    filename: str,
    actor: Actor,
    folder: Path | None = None,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int = MAX_PHOTO_PIXELS,
) -> ResultPhoto:
    """Attach a photo to a result revision (the caller has checked who may). What is stored
    is the cleaned picture (`clean_photo`), named by its own hash."""
    access.require(actor, AuditAction.PHOTO_UPLOAD)
    data, content_type = clean_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    digest = hashlib.sha256(data).hexdigest()
    if db_session.scalar(
        select(ResultPhoto.id).where(
            ResultPhoto.result_id == result.id, ResultPhoto.sha256 == digest
        )
    ):
        raise Conflict("这张照片已附在该检查结果上")
    if len(result.photos) >= MAX_PHOTOS_PER_RESULT:
        raise CheckOnceError(f"每条检查结果最多 {MAX_PHOTOS_PER_RESULT} 张照片")
    store_file(photos_dir(folder), data, content_type)
    photo = ResultPhoto(
        result_id=result.id,
        sha256=digest,
        content_type=content_type,
        size_bytes=len(data),
        filename=(filename or "").strip()[:200],
        uploaded_by=actor.label,
    )
    result.photos.append(photo)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.PHOTO_UPLOAD,
        object_type="result_photo",
        object_id=photo.id,
        enterprise_id=result.visit.enterprise_id,
        after={"result_id": result.id, "sha256": digest, "size_bytes": len(data)},
    )
    return photo


def read_photo(photo: ResultPhoto, folder: Path | None = None) -> bytes:
    """The stored bytes, verified against the recorded hash."""
    path = photo_path(photos_dir(folder), photo.sha256, photo.content_type)
    try:
        data = path.read_bytes()
    except OSError:
        raise CheckOnceError(f"照片文件缺失：{path.name}") from None
    if hashlib.sha256(data).hexdigest() != photo.sha256:
        raise CheckOnceError(f"照片文件 {path.name} 与登记的哈希不符，可能已被改动")
    return data
