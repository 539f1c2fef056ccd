from __future__ import annotations

from django import forms
from django.conf import settings
from markdownx.fields import MarkdownxFormField

FORUM = settings.FORUM


def body_field(label: str) -> MarkdownxFormField:
    field = MarkdownxFormField(
        label=label,
        max_length=FORUM["BODY_MAX"],
        help_text=f"Markdown. Up to {FORUM['BODY_MAX']:,} characters.",
    )
    field.widget.attrs.update({"rows": 8, "maxlength": FORUM["BODY_MAX"]})
    field.error_messages["required"] = "The post is empty: write at least a few words."
    field.error_messages["max_length"] = (
        f"The post is too long: at most {FORUM['BODY_MAX']:,} characters "
        "(this one has %(show_value)d)."
    )
    return field


class ThreadForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=FORUM["TITLE_MAX"],
        min_length=FORUM["TITLE_MIN"],
        help_text=f"{FORUM['TITLE_MIN']} to {FORUM['TITLE_MAX']} characters.",
        error_messages={
            "required": "Give the thread a title.",
            "min_length": f"The title is too short: at least {FORUM['TITLE_MIN']} characters.",
            "max_length": f"The title is too long: at most {FORUM['TITLE_MAX']} characters "
            "(this one has %(show_value)d).",
        },
    )
    body = body_field("Message")
    client_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class ReplyForm(forms.Form):
    body = body_field("Reply")
    client_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class EditPostForm(forms.Form):
    title = forms.CharField(label="Title", max_length=FORUM["TITLE_MAX"], required=False)
    body = body_field("Message")
    reason = forms.CharField(label="Reason for the edit (optional)", max_length=500, required=False)
