"""The markdownx preview and image-upload endpoints: members with posting rights only, limits."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from forum import uploads
from forum.models import Upload
from tests.conftest import client_for, make_member

PREVIEW = "/markdownx/markdownify/"
UPLOAD = "/markdownx/upload/"


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def _suspended():
    return make_member(suspended_until=timezone.now() + timedelta(days=2))


def _refused_members():
    return {
        "pending": make_member(approved=False),
        "suspended": _suspended(),
        "deactivated": make_member(is_active=False),
    }


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_preview_renders_with_the_post_renderer_for_members(member):
    make_member("james")
    response = client_for(member).post(
        PREVIEW, {"content": "**hi** @james @ghost <script>x</script>"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>hi</strong>" in html
    assert 'href="/u/james/"' in html and "/u/ghost/" not in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_preview_refuses_visitors_and_members_without_posting_rights():
    assert client_for().post(PREVIEW, {"content": "x"}).status_code == 403
    for label, user in _refused_members().items():
        client = client_for(user)
        assert client.post(PREVIEW, {"content": "**x**"}).status_code == 403, label


@pytest.mark.django_db
def test_preview_refuses_text_over_the_body_limit(member, settings):
    response = client_for(member).post(PREVIEW, {"content": "x" * (settings.FORUM["BODY_MAX"] + 1)})
    assert response.status_code == 400
    assert b"at most 20,000 characters" in response.content


@pytest.mark.django_db
def test_preview_requires_csrf_token(member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(PREVIEW, {"content": "x"}).status_code == 403


@pytest.mark.django_db
def test_upload_image_accepts_real_png_and_reencodes_it(member, media_root):
    original = _png() + b"<html><script>alert(1)</script></html>"  # trailing junk
    response = client_for(member).post(
        UPLOAD, {"image": SimpleUploadedFile("a.png", original, content_type="image/png")}
    )
    assert response.status_code == 200, response.content
    code = response.json()["image_code"]
    assert code.startswith("![](/media/uploads/") and code.endswith(".png)")
    record = Upload.objects.get(owner=member)
    stored = (media_root / record.file.name).read_bytes()
    assert stored != original and b"<script>" not in stored
    assert Image.open(io.BytesIO(stored)).size == (40, 30)
    served = client_for(member).get(code[4:-1])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name,data",
    [
        ("evil.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'),
        ("evil.png", b"<html><body><script>alert(1)</script></body></html>"),
        ("evil.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("page.gif", b"GIF89a<script>alert(1)</script>"),
        ("doc.png", b"%PDF-1.4 not an image"),
    ],
)
def test_upload_image_refuses_disguised_non_images(member, media_root, name, data):
    response = client_for(member).post(
        UPLOAD, {"image": SimpleUploadedFile(name, data, content_type="image/png")}
    )
    assert response.status_code == 400
    assert "not an image we accept" in response.json()["image"][0]
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_upload_image_refuses_files_over_the_size_limit(member, media_root, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UPLOAD", 1024)
    big = _png(size=(300, 300), color=(1, 2, 3)) + b"\0" * 2048
    response = client_for(member).post(
        UPLOAD, {"image": SimpleUploadedFile("big.png", big, content_type="image/png")}
    )
    assert response.status_code == 400
    assert "too big" in response.json()["image"][0]


def test_reencode_image_refuses_too_many_pixels(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PIXELS", 100)
    with pytest.raises(uploads.BadImage, match="too large"):
        uploads.reencode_image(_png(size=(20, 20)))


def test_reencode_image_shrinks_large_images():
    data, mime, ext = uploads.reencode_image(_png(size=(3000, 1000)))
    assert (mime, ext) == ("image/png", "png")
    assert Image.open(io.BytesIO(data)).size == (1600, 533)


@pytest.mark.django_db
def test_upload_image_refuses_visitors_and_members_without_posting_rights(media_root):
    def post(client):
        return client.post(
            UPLOAD, {"image": SimpleUploadedFile("a.png", _png(), content_type="image/png")}
        )

    assert post(client_for()).status_code == 403
    for label, user in _refused_members().items():
        assert post(client_for(user)).status_code == 403, label
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_upload_image_without_a_file_says_so(member):
    response = client_for(member).post(UPLOAD, {})
    assert response.status_code == 400
    assert response.json()["image"] == ["Choose an image to upload."]


@pytest.mark.django_db
def test_serve_media_refuses_paths_outside_media_and_non_images(member, media_root):
    (media_root / "uploads").mkdir()
    (media_root / "uploads" / "x.html").write_text("<script>alert(1)</script>")
    client = client_for(member)
    assert client.get("/media/uploads/x.html").status_code == 404
    assert client.get("/media/../config/settings.py").status_code == 404
    assert client.get("/media/uploads/missing.png").status_code == 404
