"""The event log: the record behind every live update. The websocket is only the doorbell."""

from __future__ import annotations

from django.db import models


class StreamSequence(models.Model):
    """The last event number of a stream. Incrementing it locks the row until commit, so events
    of one stream commit in number order and a client resuming "after N" never skips one."""

    stream = models.CharField(max_length=64, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)


class StreamEvent(models.Model):
    stream = models.CharField(max_length=64)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="streamevent_stream_seq"),
        ]

    def as_message(self) -> dict:
        return {"stream": self.stream, "id": self.seq, "type": self.type, "data": self.payload}
