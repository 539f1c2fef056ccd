"""Members. The profile lives on the user row itself: one member, one row, no join to forget."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class MemberType(models.TextChoices):
    CTE_TEACHER = "teacher", "CTE teacher"
    PROGRAM_ADMIN = "admin", "Program administrator"
    COUNSELOR = "counselor", "Counselor"
    INDUSTRY = "industry", "Industry partner"
    POLICY = "policy", "Policymaker or staffer"
    AGENCY = "agency", "Agency staff"
    STUDENT = "student", "Student"
    OTHER = "other", "Other"


class Region(models.TextChoices):
    """The seven regions used by California's CTE regional consortia."""

    BAY_AREA = "bay-area", "Bay Area"
    CENTRAL = "central", "Central Valley / Mother Lode"
    INLAND_EMPIRE = "inland-empire", "Inland Empire / Desert"
    LA = "los-angeles", "Los Angeles"
    NORTH = "north", "North / Far North"
    ORANGE = "orange", "Orange County"
    SAN_DIEGO = "san-diego", "San Diego / Imperial"
    SOUTH_CENTRAL = "south-central", "South Central Coast"
    STATEWIDE = "statewide", "Statewide"


class MembershipStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


def avatar_path(instance: User, filename: str) -> str:
    # Random names: an upload's name never comes from the client. The extension is the one our
    # re-encoder chose (png or jpg), so the stored file's name matches its content.
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"avatars/{uuid.uuid4().hex}.{ext if ext in ('png', 'jpg') else 'png'}"


class User(AbstractUser):
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    organisation = models.CharField(max_length=120, blank=True)
    job_title = models.CharField(max_length=120, blank=True)
    member_type = models.CharField(
        max_length=20, choices=MemberType.choices, default=MemberType.OTHER
    )
    region = models.CharField(max_length=20, choices=Region.choices, blank=True)
    bio = models.TextField(max_length=600, blank=True)
    avatar = models.ImageField(upload_to=avatar_path, blank=True)

    membership_status = models.CharField(
        max_length=10, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Moderation state. suspended_until far in the future means "indefinitely".
    suspended_until = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.CharField(max_length=500, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    silence_reason = models.CharField(max_length=500, blank=True)

    post_count = models.PositiveIntegerField(default=0)
    thread_count = models.PositiveIntegerField(default=0)
    # "What is new since my last visit": the previous visit's start is kept for the whole visit.
    last_visit_at = models.DateTimeField(null=True, blank=True)
    previous_visit_at = models.DateTimeField(null=True, blank=True)

    # {notification kind: "app" | "email" | "off"}; missing kinds use the default ("app").
    notification_prefs = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["username"]
        indexes = [models.Index(fields=["membership_status", "date_joined"])]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_approved(self) -> bool:
        return self.membership_status == MembershipStatus.APPROVED or self.is_staff

    @property
    def is_suspended(self) -> bool:
        return self.suspended_until is not None and self.suspended_until > timezone.now()

    @property
    def is_silenced(self) -> bool:
        return self.silenced_until is not None and self.silenced_until > timezone.now()

    @property
    def avatar_hue(self) -> int:
        """A stable colour class (0-11) for the generated fallback avatar (initials on a disc)."""
        digest = hashlib.sha256(self.username.encode()).hexdigest()
        return int(digest[:4], 16) % 12

    @property
    def initials(self) -> str:
        parts = self.name.split()
        letters = "".join(p[0] for p in parts[:2]) if parts else self.username[:2]
        return letters.upper()
