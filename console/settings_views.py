"""The Settings page (Admins only): every workflow's policy, its history, and one policy's edit form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from console.policy_settings import (
    PolicyForm,
    StalePolicy,
    changes_since,
    policy_history,
    save_policy,
    settings_overview,
    workflow_label,
)
from payops.models import WorkflowPolicy
from payops.policy_gate import policy_for
from payops.staff_groups import WORKFLOWS
from payops.views import HtmxHttpRequest

PAGE = "console/settings.html"


def _partial_wanted(request: HtmxHttpRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _editor_context(policy: WorkflowPolicy, form: PolicyForm, **extra: Any) -> dict[str, Any]:
    return {
        "policy": policy,
        "workflow": policy.workflow,
        "workflow_label": workflow_label(policy.workflow),
        "form": form,
        "history": policy_history(policy),
        **extra,
    }


def _render_editor(
    request: HtmxHttpRequest, policy: WorkflowPolicy, form: PolicyForm, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _editor_context(policy, form, **extra)
    if _partial_wanted(request):
        response = render(request, f"{PAGE}#editor", context, status=status)
    else:
        response = render(request, PAGE, {"overview": settings_overview(), **context}, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@permission_required("payops.change_workflowpolicy", raise_exception=True)
def policies(request: HtmxHttpRequest) -> HttpResponse:
    response = render(request, PAGE, {"overview": settings_overview()})
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_http_methods(["GET", "POST"])
@permission_required("payops.change_workflowpolicy", raise_exception=True)
def edit_policy(request: HtmxHttpRequest, workflow: str) -> HttpResponse:
    """GET the form; POST saves it (400 with reasons if invalid, 409 if someone saved in between)."""
    if workflow not in WORKFLOWS:
        raise Http404("no such workflow")
    policy = policy_for(workflow)
    if request.method == "GET":
        return _render_editor(request, policy, PolicyForm.for_policy(policy))
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _render_editor(request, policy, form, status=400)
    actor = request.user
    assert isinstance(actor, AbstractBaseUser)  # permission_required let only a signed-in user through
    try:
        policy, changed = save_policy(
            workflow=workflow,
            values=form.policy_values(),
            loaded_at=form.cleaned_data["policy_updated_at"],
            actor=actor,
        )
    except StalePolicy as stale:
        # Show what is stored now, and what changed, rather than overwrite it.
        current = stale.current
        return _render_editor(
            request, current, PolicyForm.for_policy(current), status=409, conflict=changes_since(current, stale.since)
        )
    label = workflow_label(workflow)
    saved = f"Saved the {label} policy." if changed else f"Nothing changed in the {label} policy."
    if not _partial_wanted(request):
        messages.success(request, saved)
        return redirect("console:settings")
    # In place: the editor with the new values, and the overview's table and
    # recent changes swapped out of band so the page agrees with itself.
    context = _editor_context(policy, PolicyForm.for_policy(policy), saved=saved)
    html = render_to_string(f"{PAGE}#editor", context, request=request)
    overview = {"overview": settings_overview(), "oob": True}
    html += render_to_string(f"{PAGE}#overview", overview, request=request)
    html += render_to_string(f"{PAGE}#recent", overview, request=request)
    response = HttpResponse(html)
    patch_vary_headers(response, ("HX-Request",))
    return response
