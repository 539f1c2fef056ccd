"""Upload type confusion, metadata, names and serving (issue 7 point 6, issue 6 point 7).

The malicious SVGs under data/svg are copies of PayloadsAllTheThings "XSS Injection/Files/*.svg"
(MIT License, Copyright (c) 2019 Swissky), the same files as ../shared/corpora/xss/svg.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from forum.models import Upload
from forum.uploads import BadImage, reencode_image
from tests.conftest import client_for, make_member

pytestmark = pytest.mark.django_db

UPLOAD = "/markdownx/upload/"
SVG_DIR = Path(__file__).parent / "data" / "svg"
SVGS = sorted(SVG_DIR.glob("*.svg"))


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _image(fmt: str, size=(24, 16), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, fmt, **save)
    return out.getvalue()


def _upload(client, name: str, data: bytes, content_type: str = "image/png"):
    return client.post(UPLOAD, {"image": SimpleUploadedFile(name, data, content_type)})


def test_svg_corpus_is_present():
    assert len(SVGS) == 8


@pytest.mark.parametrize("svg", SVGS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "name,content_type",
    [
        ("drawing.svg", "image/svg+xml"),
        ("photo.png", "image/png"),
        ("photo.jpg", "image/jpeg"),
    ],
)
def test_upload_image_refuses_malicious_svgs(member, media_root, svg, name, content_type):
    response = _upload(client_for(member), name, svg.read_bytes(), content_type)
    assert response.status_code == 400
    assert "not an image we accept" in response.json()["image"][0]
    assert not Upload.objects.exists()
    assert not any(media_root.rglob("*.*"))


POLYGLOTS = {
    "html with a png signature": b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
    "gif header then script": b"GIF89a/*\x00\x00*/=1;alert(1)//<script>alert(2)</script>",
    "jpeg magic then html": b"\xff\xd8\xff\xe0<html><body onload=alert(1)>",
    "html": b"<!doctype html><title>x</title><script>alert(1)</script>",
    "xhtml": b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script/></html>',
    "bmp (not accepted)": _image("BMP"),
    "tiff (not accepted)": _image("TIFF"),
    "empty": b"",
}


@pytest.mark.parametrize("label", POLYGLOTS)
def test_reencode_image_refuses_polyglots_and_other_formats(label):
    with pytest.raises(BadImage, match="not an image we accept"):
        reencode_image(POLYGLOTS[label])


def test_reencode_image_strips_metadata_and_trailing_payload():
    exif = Image.Exif()
    exif[0x010E] = "<script>alert('exif')</script>"  # ImageDescription
    exif[0x8825] = {2: (37.0, 46.0, 30.0)}  # GPS: where the photo was taken
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (200, 10, 10)).save(out, "JPEG", exif=exif, comment=b"<script>x")
    jpeg = out.getvalue() + b"<script>alert('trailer')</script>"
    data, mime, ext = reencode_image(jpeg)
    assert (mime, ext) == ("image/jpeg", "jpg")
    assert data != jpeg
    assert b"<script" not in data and b"Exif" not in data
    reopened = Image.open(io.BytesIO(data))
    assert not reopened.getexif() and "comment" not in reopened.info


def test_reencode_image_gif_with_script_comment_is_rewritten():
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF", comment=b"<script>alert(1)</script>")
    data, mime, _ext = reencode_image(out.getvalue())
    assert mime == "image/png"  # GIF and WebP come back as PNG
    assert b"<script" not in data


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_upload_image_accepts_each_raster_format_under_a_random_name(member, media_root, fmt):
    client = client_for(member)
    original = _image(fmt)
    first = _upload(client, "holiday<script>.png", original)
    second = _upload(client, "holiday<script>.png", original)
    assert first.status_code == second.status_code == 200, first.content
    names = [r.json()["image_code"][4:-1] for r in (first, second)]
    assert names[0] != names[1]
    for url in names:
        stem = url.rsplit("/", 1)[1].split(".")[0]
        assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)
        assert "holiday" not in url
        served = client_for().get(url)
        assert served.status_code == 200
        assert served["Content-Type"] in ("image/png", "image/jpeg")
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Disposition"].startswith("inline; filename=")
        assert "sandbox" in served["Content-Security-Policy"]
        assert b"".join(served.streaming_content) != original


def test_upload_image_refuses_anonymous_and_pending(media_root):
    png = _image("PNG")
    anonymous = _upload(client_for(), "a.png", png)
    assert anonymous.status_code == 403
    pending = _upload(client_for(make_member(approved=False)), "a.png", png)
    assert pending.status_code == 403
    assert "awaiting approval" in pending.json()["image"][0]
    assert not Upload.objects.exists()


def test_upload_image_over_limit_says_how_big(member, media_root, settings):
    from forum import uploads

    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (uploads.MAX_UPLOAD + 1)
    response = _upload(client_for(member), "big.png", big)
    assert response.status_code == 400
    assert "too big: at most 4 MB" in response.json()["image"][0]


# ---------------------------------------------------------------- avatars


def _post_profile(client, member, data: bytes, name: str, content_type: str):
    return client.post(
        "/settings/profile/",
        {
            "display_name": member.display_name,
            "organisation": "",
            "job_title": "",
            "member_type": "teacher",
            "region": "",
            "bio": "",
            "avatar": SimpleUploadedFile(name, data, content_type),
        },
    )


@pytest.mark.parametrize("svg", SVGS[:3], ids=lambda p: p.name)
def test_profile_avatar_refuses_svg_and_keeps_typed_values(media_root, svg):
    member = make_member()
    response = _post_profile(client_for(member), member, svg.read_bytes(), "me.png", "image/png")
    assert response.status_code == 200
    assert "not an image we accept" in response.content.decode()
    member.refresh_from_db()
    assert not member.avatar


def test_profile_avatar_is_reencoded_under_random_name(media_root):
    member = make_member()
    original = _image("PNG", size=(300, 200))
    response = _post_profile(client_for(member), member, original, "<x>.png", "image/png")
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.avatar.name.startswith("avatars/") and "<x>" not in member.avatar.name
    stored = (media_root / member.avatar.name).read_bytes()
    assert stored != original
    assert Image.open(io.BytesIO(stored)).size == (256, 256)
