"""Forum data and its invariants. No request handling here; every write goes through actions.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.text import slugify

from .urlcache import fast_reverse

User = settings.AUTH_USER_MODEL


class Visibility(models.TextChoices):
    ANYONE = "anyone", "Anyone, including visitors"
    MEMBERS = "members", "Signed-in members"
    GROUPS = "groups", "Members of the named groups"


class PostingRule(models.TextChoices):
    MEMBERS = "members", "Approved members"
    STAFF = "staff", "Staff only"
    GROUPS = "groups", "Members of the named groups"


class WatchLevel(models.TextChoices):
    WATCHING = "watching", "Watching"
    NORMAL = "normal", "Normal"
    MUTED = "muted", "Muted"


class Board(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.ANYONE
    )
    visible_groups = models.ManyToManyField(Group, blank=True, related_name="visible_boards")
    # Who may start threads, and who may reply (replies also need the board to be visible).
    start_rule = models.CharField(
        max_length=10, choices=PostingRule.choices, default=PostingRule.MEMBERS
    )
    reply_rule = models.CharField(
        max_length=10, choices=PostingRule.choices, default=PostingRule.MEMBERS
    )
    posting_groups = models.ManyToManyField(Group, blank=True, related_name="posting_boards")
    moderators = models.ManyToManyField(User, blank=True, related_name="moderated_boards")
    moderator_groups = models.ManyToManyField(Group, blank=True, related_name="moderated_boards")

    # Counters kept by actions (F() updates under the thread/board row lock): the listed threads
    # and the visible posts of those threads (forum.moderation.recount_boards).
    thread_count = models.PositiveIntegerField(default=0)
    post_count = models.PositiveIntegerField(default=0)
    last_post = models.ForeignKey(
        "Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_post_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return fast_reverse("forum:board", self.slug)


class Thread(models.Model):
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="threads")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, blank=True)
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="threads")
    created_at = models.DateTimeField(db_index=True)

    is_pinned = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False)
    is_hidden = models.BooleanField(default=False)
    hidden_reason = models.CharField(max_length=500, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # A thread merged into another redirects there.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # post_count counts every numbered post (including removed ones); reply_count the visible
    # posts after the first.
    post_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)
    last_post = models.ForeignKey(
        "Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_post_at = models.DateTimeField(db_index=True)
    last_poster = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["board", "-is_pinned", "-last_post_at", "-id"], name="thread_board_order"
            ),
            # The listed threads of a board (what members and visitors see), in page order:
            # page N's ids come from this index alone, without reading the rows before them
            # (queries.board_page). The index above serves moderators, who see every thread.
            models.Index(
                fields=["board", "-is_pinned", "-last_post_at", "-id"],
                name="thread_listed_order",
                condition=models.Q(merged_into__isnull=True, is_hidden=False, is_deleted=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.slug = slugify(self.title)[:80] or "thread"
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return fast_reverse("forum:thread", self.pk, self.slug or "thread")


class Post(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    # Position in the thread, 1-based and dense: page k holds numbers ((k-1)*n, k*n].
    number = models.PositiveIntegerField()
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="posts")
    body = models.TextField()
    html = models.TextField(blank=True)
    render_version = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(db_index=True)

    edited_at = models.DateTimeField(null=True, blank=True)
    edit_count = models.PositiveIntegerField(default=0)
    is_hidden = models.BooleanField(default=False)
    hidden_reason = models.CharField(max_length=500, blank=True)
    hidden_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_deleted = models.BooleanField(default=False)
    deleted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # {"like": 3, "thanks": 1}: kept by the react action so a page never counts reactions.
    reaction_counts = models.JSONField(default=dict, blank=True)
    # Members already notified of a mention in this post (edits never notify twice).
    mentioned_user_ids = models.JSONField(default=list, blank=True)
    # Guards against double-submit: the same token from the same author makes one post.
    client_token = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "number"], name="post_thread_number"),
        ]
        indexes = [
            models.Index(fields=["author", "-created_at"], name="post_author_recent"),
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} (#{self.number} in thread {self.thread_id})"

    def get_absolute_url(self) -> str:
        return fast_reverse("forum:post", self.pk)

    @property
    def is_visible(self) -> bool:
        return not (self.is_hidden or self.is_deleted)


class PostRevision(models.Model):
    """The text of a post before an edit; the first revision is the original."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    title = models.CharField(max_length=200, blank=True)
    editor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["post", "number"], name="revision_post_number"),
        ]


class ReactionKind(models.TextChoices):
    LIKE = "like", "Like"
    THANKS = "thanks", "Thanks"
    INSIGHTFUL = "insightful", "Insightful"
    AGREE = "agree", "Agree"


REACTION_EMOJI = {"like": "👍", "thanks": "🙏", "insightful": "💡", "agree": "✅"}


class Reaction(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reactions")
    kind = models.CharField(max_length=12, choices=ReactionKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "kind"], name="reaction_once"),
        ]


class ReadState(models.Model):
    """The last post number a member has read in a thread."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="read_states")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="read_states")
    last_read_number = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "thread"], name="readstate_once"),
        ]


class BoardReadMark(models.Model):
    """'Mark all read' for a board: threads with no post after marked_at count as read."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "board"], name="boardreadmark_once"),
        ]


class ThreadWatch(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="thread_watches")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="watches")
    level = models.CharField(max_length=10, choices=WatchLevel.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "thread"], name="threadwatch_once"),
        ]


class BoardWatch(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="board_watches")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="watches")
    level = models.CharField(max_length=10, choices=WatchLevel.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "board"], name="boardwatch_once"),
        ]


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    OFF_TOPIC = "off_topic", "Off-topic"
    HARASSMENT = "harassment", "Harassment or abuse"
    OTHER = "other", "Something else"


class Report(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports_made")
    reason = models.CharField(max_length=12, choices=ReportReason.choices)
    text = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "reporter"], name="report_once"),
        ]
        indexes = [models.Index(fields=["resolved_at", "created_at"], name="report_queue")]


class ModerationAction(models.Model):
    """The moderation log: who did what, to what, when, why, and the state before and after."""

    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40, db_index=True)
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    board = models.ForeignKey(
        Board, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="moderation_history"
    )
    reason = models.CharField(max_length=500, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]


class Upload(models.Model):
    """An image a member uploaded for a post (re-encoded, random name)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to="uploads/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class NotificationKind(models.TextChoices):
    REPLY = "reply", "A reply to my thread"
    QUOTE = "quote", "A reply quoting me"
    MENTION = "mention", "An @mention"
    WATCHED_THREAD = "watched_thread", "A new post in a thread I watch"
    WATCHED_BOARD = "watched_board", "A new thread in a board I watch"
    MODERATION = "moderation", "A moderator action on my content"
    MEMBERSHIP = "membership", "My membership was approved"
    REPORT_RESOLVED = "report_resolved", "A report I made was resolved"


class Notification(models.Model):
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    board = models.ForeignKey(
        Board, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Several replies in one thread collapse into one unread notification; count says how many.
    count = models.PositiveIntegerField(default=1)
    text = models.CharField(max_length=300, blank=True)
    is_read = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "is_read", "-updated_at"], name="notification_inbox"),
        ]
