"""Sign-up, sign-in, profiles, the member directory and membership approval (thin views)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from forum import permissions, queries

from . import actions
from .forms import LoginForm, ProfileForm, SignupForm
from .models import MembershipStatus, Region

User = get_user_model()


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("forum:index")
    if request.method == "POST":
        form = SignupForm(request.POST, request=request)
        if form.is_valid():
            user = actions.sign_up(request, form)
            if user.is_approved:
                messages.success(request, "Welcome to the CAROCP Forum!")
            else:
                messages.info(
                    request,
                    "Welcome! You can read the public boards now; staff will approve your "
                    "membership before you can post.",
                )
            return redirect("forum:index")
    else:
        form = SignupForm()
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "approval_required": settings.FORUM["MEMBERSHIP_APPROVAL"]},
    )


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    actions.sign_out(request)
    messages.info(request, "You are signed out.")
    return redirect("forum:index")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"

    def form_valid(self, form):  # noqa: ANN001, ANN201 (Django API)
        response = super().form_valid(form)
        actions.end_other_sessions(self.request.user, keep=self.request.session.session_key)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):  # noqa: ANN001, ANN201 (Django API)
        response = super().form_valid(form)
        actions.end_other_sessions(form.user, keep=None)
        return response


@require_safe
def directory(request: HttpRequest) -> HttpResponse:
    if not permissions.can_view_directory(request.user):
        if request.user.is_authenticated:
            raise permissions.Refused(
                "The member directory opens to you once staff approve your membership."
            )
        return redirect_to_login(request.get_full_path())
    q = request.GET.get("q", "").strip()[:80]
    region = request.GET.get("region", "")
    # Approved members and staff; pending sign-ups appear once staff approve them.
    members = User.objects.filter(is_active=True).filter(permissions.listed_members())
    if q:
        members = members.filter(
            Q(username__icontains=q)
            | Q(display_name__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(organisation__icontains=q)
            | Q(job_title__icontains=q)
        )
    if region in Region.values:
        members = members.filter(region=region)
    page_no = queries.parse_page(request.GET.get("page"))
    per = 30
    total = members.count()
    pages = max(1, -(-total // per))
    page_no = min(page_no, pages)
    rows = list(members.order_by("display_name", "username")[(page_no - 1) * per : page_no * per])
    return render(
        request,
        "accounts/directory.html",
        {
            "members": rows,
            "q": q,
            "region": region,
            "regions": Region.choices,
            "page": queries.Page(number=page_no, count=pages, items=rows),
            "total": total,
        },
    )


@require_safe
def profile(request: HttpRequest, username: str) -> HttpResponse:
    member = User.objects.filter(username=username).first()
    if member is None or not permissions.can_view_profile(request.user, member):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404("No such member.")
    return render(
        request,
        "accounts/profile.html",
        {"member": member, "recent_posts": queries.recent_posts_by(request.user, member)},
    )


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # A fresh copy: a rejected form must not leak typed values into request.user (header).
        form = ProfileForm(
            request.POST, request.FILES, instance=User.objects.get(pk=request.user.pk)
        )
        if form.is_valid():
            actions.update_profile(request.user, form)
            messages.success(request, "Your profile is saved.")
            return redirect("members:profile", username=request.user.username)
    else:
        form = ProfileForm(instance=request.user)
    return render(request, "accounts/edit_profile.html", {"form": form})


@require_safe
@login_required
def pending_members(request: HttpRequest) -> HttpResponse:
    if not permissions.can_approve_members(request.user):
        raise PermissionDenied("Only staff approve members.")
    pending = User.objects.filter(
        membership_status=MembershipStatus.PENDING, is_active=True, is_staff=False
    ).order_by("date_joined")
    return render(request, "accounts/pending.html", {"pending": pending})


@require_POST
@login_required
def decide_membership(request: HttpRequest, user_id: int) -> HttpResponse:
    if not permissions.can_approve_members(request.user):
        raise PermissionDenied("Only staff approve members.")
    member = User.objects.filter(pk=user_id).first()
    if member is None:
        raise Http404("No such member.")
    decision = request.POST.get("decision")
    if decision == "approve":
        if actions.approve_member(request.user, member):
            messages.success(request, f"{member.name} is approved.")
        else:
            messages.info(request, f"{member.name} was already approved.")
    elif decision == "decline":
        if actions.decline_member(request.user, member):
            messages.info(request, f"{member.name} was declined.")
        else:
            messages.info(request, f"{member.name} is not pending; nothing changed.")
    else:
        messages.error(request, "Choose approve or decline.")
    return redirect("members:pending")
