"""Profile page and editing one's own profile, avatar checks included."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import client_for, make_board, make_member, make_reply, make_thread


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png_bytes(size: tuple[int, int] = (400, 300), noise: bool = False) -> bytes:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 80, 20))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def profile_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "display_name": "Maria Alvarez",
        "organisation": "Sacramento County Office of Education",
        "job_title": "CTE Coordinator",
        "member_type": "admin",
        "region": "north",
        "bio": "Health science pathways and advisory committees.",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_profile_shows_details_initials_and_recent_posts():
    maria = make_member(
        "maria",
        display_name="Maria Alvarez",
        organisation="SCOE",
        job_title="CTE Coordinator",
        member_type="admin",
        region="north",
        bio="Health science pathways.",
    )
    thread = make_thread(make_board(), maria, title="Work-based learning logs")
    make_reply(thread, maria, 'Our logs live in a **shared sheet** per site & "tab".')
    make_reply(thread, maria, "<script>alert(1)</script> &lt;b&gt; stays text")
    response = client_for(make_member("james")).get("/u/maria/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Maria Alvarez",
        "SCOE",
        "CTE Coordinator",
        "Program administrator",
        "North / Far North",
        "Health science pathways.",
        "Work-based learning logs",
        'Our logs live in a shared sheet per site &amp; "tab".',
    ):
        assert text in html
    assert "<script>alert(1)" not in html and "**shared" not in html
    assert "&lt;b&gt; stays text" in html
    assert f"avatar-fallback avatar-lg hue-{maria.avatar_hue}" in html
    assert ">MA<" in html


@pytest.mark.django_db
def test_profile_hides_posts_from_boards_viewer_cannot_see():
    from tests.conftest import make_group

    dana = make_member("dana")
    board_room = make_board(
        "Board Room",
        visibility="groups",
        start_rule="groups",
        reply_rule="groups",
        groups=[make_group("Board members", dana)],
    )
    make_thread(board_room, dana, title="Executive director search")
    html = client_for(make_member("james")).get("/u/dana/").content.decode()
    assert "Executive director search" not in html
    assert "Executive director search" in client_for(dana).get("/u/dana/").content.decode()


@pytest.mark.django_db
def test_profile_is_for_signed_in_members_only():
    make_member("maria")
    response = client_for().get("/u/maria/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_edit_profile_saves_values():
    maria = make_member("maria")
    response = client_for(maria).post("/settings/profile/", profile_data())
    assert response.status_code == 302
    maria.refresh_from_db()
    assert maria.display_name == "Maria Alvarez"
    assert maria.organisation == "Sacramento County Office of Education"
    assert maria.job_title == "CTE Coordinator"
    assert maria.member_type == "admin"
    assert maria.region == "north"


@pytest.mark.django_db
def test_edit_profile_bad_input_shows_errors_and_keeps_values():
    maria = make_member("maria", display_name="Maria")
    response = client_for(maria).post(
        "/settings/profile/",
        profile_data(
            display_name=" ",
            region="atlantis",
            bio="x" * 601,
            job_title="Health Science Pathway Lead",
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"display_name", "region", "bio"}
    html = response.content.decode()
    assert html.count('class="field-error"') >= 3
    assert 'value="Health Science Pathway Lead"' in html
    assert 'value="Sacramento County Office of Education"' in html
    assert "x" * 601 in html
    # The header still shows the saved name, not the rejected one.
    maria.refresh_from_db()
    assert maria.display_name == "Maria"
    assert maria.job_title == ""


@pytest.mark.django_db
def test_edit_profile_avatar_is_resized_and_reencoded():
    maria = make_member("maria")
    upload = SimpleUploadedFile("me.png", png_bytes((640, 480)), content_type="image/png")
    response = client_for(maria).post("/settings/profile/", profile_data(avatar=upload))
    assert response.status_code == 302
    maria.refresh_from_db()
    assert maria.avatar.name.startswith("avatars/") and maria.avatar.name.endswith(".png")
    with Image.open(maria.avatar.path) as stored:
        assert stored.size == (256, 256)
    html = client_for(maria).get("/u/maria/").content.decode()
    assert f'src="{maria.avatar.url}"' in html


@pytest.mark.django_db
def test_edit_profile_avatar_not_an_image_is_refused():
    maria = make_member("maria")
    upload = SimpleUploadedFile("me.png", b"<svg onload=alert(1)></svg>", content_type="image/png")
    response = client_for(maria).post(
        "/settings/profile/", profile_data(avatar=upload, job_title="Kept value")
    )
    assert response.status_code == 200
    assert "not an image we accept" in " ".join(response.context["form"].errors["avatar"])
    html = response.content.decode()
    assert "not an image we accept" in html
    assert 'value="Kept value"' in html
    maria.refresh_from_db()
    assert not maria.avatar
    assert maria.job_title == ""


@pytest.mark.django_db
def test_edit_profile_avatar_over_2_mb_is_refused():
    maria = make_member("maria")
    data = png_bytes((1000, 1000), noise=True)
    assert len(data) > 2 * 1024 * 1024
    upload = SimpleUploadedFile("big.png", data, content_type="image/png")
    response = client_for(maria).post("/settings/profile/", profile_data(avatar=upload))
    assert response.status_code == 200
    message = " ".join(response.context["form"].errors["avatar"])
    assert "too big" in message and "2 MB" in message
    maria.refresh_from_db()
    assert not maria.avatar


@pytest.mark.django_db
def test_edit_profile_remove_avatar_falls_back_to_initials():
    maria = make_member("maria")
    client = client_for(maria)
    client.post(
        "/settings/profile/",
        profile_data(avatar=SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")),
    )
    maria.refresh_from_db()
    old_path = maria.avatar.path
    client.post("/settings/profile/", profile_data(remove_avatar="on"))
    maria.refresh_from_db()
    assert not maria.avatar
    assert not os.path.exists(old_path)
    assert "avatar-fallback" in client.get("/u/maria/").content.decode()


@pytest.mark.django_db
def test_edit_profile_requires_sign_in():
    response = client_for().get("/settings/profile/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
