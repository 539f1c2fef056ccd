from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from .models import MemberType, Region

User = get_user_model()
AVATAR_MAX = 2 * 1024 * 1024


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email", help_text="Used for password resets and notifications.")
    display_name = forms.CharField(label="Full name", max_length=80)
    organisation = forms.CharField(label="Organisation", max_length=120, required=False)
    member_type = forms.ChoiceField(label="I am a", choices=MemberType.choices)
    region = forms.ChoiceField(
        label="Region", choices=[("", "—")] + list(Region.choices), required=False
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "display_name", "organisation", "member_type", "region")

    def __init__(self, *args, request=None, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.request = request  # for the per-address sign-up limit

    def clean_display_name(self) -> str:
        # One line, like the profile form: a name is shown in titles, lists and email subjects.
        name = " ".join(self.cleaned_data["display_name"].split())
        if not name:
            raise forms.ValidationError("Enter your full name.")
        return name

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email

    def clean(self):  # noqa: ANN201 (Django API)
        cleaned = super().clean()
        if not self.errors:  # count only sign-ups that would otherwise go through
            from . import actions

            actions.check_signup_throttle(self.request)
        return cleaned


class LoginForm(AuthenticationForm):
    """Sign-in; throttling per account and per address happens in clean() via accounts.actions."""

    def clean(self):  # noqa: ANN201 (Django API)
        from . import actions

        username = self.cleaned_data.get("username") or ""
        actions.check_login_throttle(self.request, username)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            actions.record_login_failure(self.request, username)
            raise
        actions.record_login_success(self.request, username)
        return cleaned


class ProfileForm(forms.ModelForm):
    """The member's own profile. The avatar is not a model field here: it arrives as raw bytes,
    is checked by content and re-encoded (forum.uploads.reencode_image) before anything is stored.
    """

    avatar = forms.FileField(
        required=False,
        label="Avatar",
        help_text="PNG, JPEG, GIF or WebP, at most 2 MB. Cropped to a square.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_avatar = forms.BooleanField(
        required=False, label="Remove my picture and use my initials instead"
    )

    class Meta:
        model = User
        fields = ("display_name", "organisation", "job_title", "member_type", "region", "bio")
        labels = {"display_name": "Full name", "bio": "Short bio"}
        help_texts = {"bio": "A few sentences: your programs, interests, what you can help with."}
        widgets = {"bio": forms.Textarea(attrs={"rows": 4, "maxlength": 600})}

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["display_name"].required = True

    def clean_display_name(self) -> str:
        name = " ".join(self.cleaned_data["display_name"].split())
        if len(name) < 2:
            raise forms.ValidationError("Please give the name other members know you by.")
        return name

    def clean_avatar(self) -> tuple[bytes, str] | None:
        """Return (re-encoded bytes, extension), or None when no new picture was sent."""
        from forum.uploads import BadImage, reencode_image

        upload = self.cleaned_data.get("avatar")
        if not upload or not hasattr(upload, "read"):
            return None
        if upload.size > AVATAR_MAX:
            raise forms.ValidationError(
                f"That picture is too big ({upload.size / 1024 / 1024:.1f} MB); the limit is 2 MB."
            )
        try:
            data, _mime, ext = reencode_image(upload.read(), square=256)
        except BadImage as exc:
            raise forms.ValidationError(str(exc))
        return data, ext
