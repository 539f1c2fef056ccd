from django.contrib import admin

from .models import StreamEvent, StreamSequence

admin.site.register(
    StreamEvent, list_display=("stream", "seq", "type", "created_at"), list_filter=("type",)
)
admin.site.register(StreamSequence, list_display=("stream", "last_seq"))
