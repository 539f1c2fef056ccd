"""Preview and image upload for the editor, and serving uploaded media safely."""

from __future__ import annotations

import io
import mimetypes
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST, require_safe
from PIL import Image, UnidentifiedImageError

from . import permissions
from .models import Upload

RASTER_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
MAX_UPLOAD = settings.MARKDOWNX_UPLOAD_MAX_SIZE
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses decompression bombs beyond twice this


class BadImage(ValueError):
    pass


def reencode_image(
    data: bytes, *, max_side: int = 1600, square: int | None = None
) -> tuple[bytes, str, str]:
    """Check by content (not the client's type), re-encode, and return (bytes, mime, ext).

    Only PNG, JPEG, GIF and WebP are accepted; SVG, HTML or anything else is refused.
    """
    try:
        with Image.open(io.BytesIO(data), formats=list(RASTER_FORMATS)) as probe:
            fmt, (width, height) = probe.format, probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage("That file is not an image we accept (PNG, JPEG, GIF or WebP).") from exc
    if fmt not in RASTER_FORMATS:
        raise BadImage("That file is not an image we accept (PNG, JPEG, GIF or WebP).")
    if width * height > MAX_PIXELS:
        raise BadImage(f"That image is too large: at most {MAX_PIXELS // 1_000_000} megapixels.")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (Image.DecompressionBombError, OSError) as exc:
        raise BadImage("That image is too large to process.") from exc
    if square:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((square, square))
    else:
        image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if fmt == "JPEG":
        image = image.convert("RGB")
        image.info = {}  # Pillow re-writes a JPEG comment/EXIF kept in info: drop all metadata
        image.save(out, "JPEG", quality=85)
        return out.getvalue(), "image/jpeg", "jpg"
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    image.save(out, "PNG", optimize=True)
    return out.getvalue(), "image/png", "png"


@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    if not permissions.can_preview(request.user):
        # Say why (suspended until when, silenced, awaiting approval), as the forms do.
        refusal = permissions.posting_refusal(request.user) or permissions.silence_refusal(
            request.user
        )
        if not request.user.is_authenticated:
            refusal = "Sign in with posting rights to preview."
        return HttpResponse(refusal, status=403, content_type="text/plain")
    from .limits import RateLimited, check_rate

    try:
        check_rate(request.user, "preview")  # rendering costs CPU: generous, but bounded
    except RateLimited as limited:
        response = HttpResponse(limited.message, status=429, content_type="text/plain")
        response["Retry-After"] = str(limited.retry_after)
        return response
    content = request.POST.get("content", "")
    if len(content) > settings.FORUM["BODY_MAX"]:
        return HttpResponse(
            f"Too long to preview: at most {settings.FORUM['BODY_MAX']:,} characters.", status=400
        )
    from .actions import render_post_body  # the same rendering a saved post gets

    return HttpResponse(render_post_body(content))


@require_POST
def upload_image(request: HttpRequest) -> JsonResponse:
    try:
        permissions.check_upload(request.user)
    except permissions.Refused as refused:
        return JsonResponse({"image": [refused.message]}, status=403)
    upload = request.FILES.get("image")
    if upload is None:
        return JsonResponse({"image": ["Choose an image to upload."]}, status=400)
    if upload.size > MAX_UPLOAD:
        return JsonResponse(
            {"image": [f"That image is too big: at most {MAX_UPLOAD // (1024 * 1024)} MB."]},
            status=400,
        )
    from .limits import RateLimited, check_rate

    try:
        check_rate(request.user, "upload")
    except RateLimited as limited:
        return JsonResponse({"image": [limited.message]}, status=429)
    try:
        data, mime, ext = reencode_image(upload.read())
    except BadImage as exc:
        return JsonResponse({"image": [str(exc)]}, status=400)
    record = Upload(owner=request.user, content_type=mime, size=len(data))
    record.file.save(f"{uuid.uuid4().hex}.{ext}", ContentFile(data), save=False)
    record.save()
    return JsonResponse({"image_code": f"![]({settings.MEDIA_URL}{record.file.name})"})


@require_safe
def serve_media(request: HttpRequest, path: str) -> FileResponse:
    """Uploaded images, served with a fixed type, nosniff and Content-Disposition."""
    root = Path(settings.MEDIA_ROOT).resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file():
        raise Http404("No such file.")
    mime = mimetypes.guess_type(target.name)[0]
    if mime not in RASTER_FORMATS.values():
        raise Http404("No such file.")
    response = FileResponse(target.open("rb"), content_type=mime)
    response["Content-Disposition"] = f'inline; filename="{target.name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
