"""Writes for the public schema. Views call these; nothing else writes tenants' models."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework import exceptions

from pushpilot.api.errors import ApiError, Conflict
from tenants import routing
from tenants.authentication import hash_secret
from tenants.models import (
    ApiKey,
    AuditLog,
    AuthProvider,
    Invitation,
    Membership,
    MembershipStatus,
    Role,
    User,
    Workspace,
)
from tenants.schemas import ensure_base_schema

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


# -- audit ---------------------------------------------------------------------------------------
def audit_record(
    *,
    workspace: Workspace,
    action: str,
    actor=None,
    api_key: ApiKey | None = None,
    target=None,
    metadata: dict | None = None,
    ip: str | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        workspace=workspace,
        actor=actor if isinstance(actor, User) else None,
        actor_api_key=api_key,
        action=action,
        target_type=target.__class__.__name__.lower() if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        metadata=metadata or {},
        ip_address=ip,
    )


# -- users ---------------------------------------------------------------------------------------
def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"password": list(exc.messages)}) from exc


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> User:
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise exceptions.ValidationError({"email": ["An account with this email already exists."]})
    user = User(email=email, full_name=full_name, auth_provider=AuthProvider.EMAIL)
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise exceptions.ValidationError({"email": ["An account with this email already exists."]}) from exc
    return user


# -- workspaces ----------------------------------------------------------------------------------
def _validate_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise exceptions.ValidationError(
            {
                "slug": [
                    "Use 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
                ]
            }
        )
    if routing.is_reserved(slug) or _looks_like_uuid(slug):
        raise exceptions.ValidationError({"slug": [f"'{slug}' is reserved; choose another."]})
    return slug


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50].strip("-") or "workspace"
    # A slug that parses as a UUID would be read as an id and never resolve as a slug.
    if routing.is_reserved(base) or not SLUG_RE.match(base) or _looks_like_uuid(base):
        base = f"{base}-ws" if SLUG_RE.match(f"{base}-ws") else "workspace"
    taken = set(Workspace.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def workspace_create(
    *,
    owner: User,
    name: str,
    slug: str | None = None,
    timezone_name: str | None = None,
    ip: str | None = None,
) -> Workspace:
    explicit = _validate_slug(slug) if slug else None
    # The base schema is committed before the clone when this is the first workspace: inside the
    # clone's transaction pg_dump could not see it, and the slower fallback clone is less faithful.
    ensure_base_schema()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                workspace = Workspace(
                    id=uuid.uuid4(),
                    name=name.strip(),
                    slug=explicit or _unique_slug(name),
                    owner=owner,
                    timezone=timezone_name or "UTC",
                )
                workspace.schema_name = f"ws_{workspace.id.hex}"
                workspace.full_clean(exclude=["schema_name", "owner"])
                workspace.save()
                Membership.objects.create(
                    workspace=workspace, user=owner, role=Role.OWNER, status=MembershipStatus.ACTIVE
                )
                audit_record(
                    workspace=workspace, action="workspace.created", actor=owner, target=workspace, ip=ip
                )
            return workspace
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from exc
        except IntegrityError as exc:
            if explicit:
                raise exceptions.ValidationError({"slug": ["This slug is already taken."]}) from exc
            # Two creations raced for the same generated slug: pick the next one.
    raise Conflict("Could not allocate a unique slug; try again.")


@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: User, ip: str | None = None, **changes) -> Workspace:
    old_slug = workspace.slug
    if "slug" in changes and changes["slug"] != workspace.slug:
        changes["slug"] = _validate_slug(changes["slug"])
        if Workspace.objects.filter(slug=changes["slug"]).exclude(pk=workspace.pk).exists():
            raise exceptions.ValidationError({"slug": ["This slug is already taken."]})
    if "plan_type" in changes and changes["plan_type"] != workspace.plan_type:
        membership = Membership.objects.get(workspace=workspace, user=actor)
        if membership.role != Role.OWNER:
            raise ApiError("Only the owner can change the plan.", code="permission_denied", status_code=403)
    for field, value in changes.items():
        setattr(workspace, field, value)
    try:
        workspace.full_clean(exclude=["schema_name", "owner"])
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from exc
    workspace.save()
    audit_record(
        workspace=workspace,
        action="workspace.updated",
        actor=actor,
        target=workspace,
        metadata={"fields": sorted(changes)},
        ip=ip,
    )
    transaction.on_commit(lambda: routing.forget(old_slug, workspace.slug, workspace.pk))
    return workspace


def workspace_delete(*, workspace: Workspace, actor: User, confirm: str) -> None:
    if confirm != workspace.slug:
        raise exceptions.ValidationError(
            {"confirm": [f"Type the workspace slug '{workspace.slug}' to confirm."]}
        )
    refs = (workspace.slug, str(workspace.pk))
    with transaction.atomic():
        ApiKey.objects.filter(workspace=workspace).delete()
        # auto_drop_schema: DROP SCHEMA … CASCADE runs with the row delete.
        workspace.delete(force_drop=True)
    routing.forget(*refs)


@transaction.atomic
def workspace_transfer_ownership(
    *, workspace: Workspace, actor: User, new_owner_id, ip: str | None = None
) -> None:
    memberships = {m.user_id: m for m in Membership.objects.select_for_update().filter(workspace=workspace)}
    current = memberships.get(actor.pk)
    if current is None or current.role != Role.OWNER:
        raise ApiError("Only the owner can transfer ownership.", code="permission_denied", status_code=403)
    target = memberships.get(_as_uuid(new_owner_id, "user_id"))
    if target is None:
        raise exceptions.ValidationError(
            {"user_id": ["The new owner must already be a member of this workspace."]}
        )
    if target.pk == current.pk:
        raise exceptions.ValidationError({"user_id": ["You already own this workspace."]})
    current.role = Role.ADMIN
    current.save(update_fields=["role"])
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    Workspace.objects.filter(pk=workspace.pk).update(owner=target.user, updated_at=timezone.now())
    audit_record(
        workspace=workspace,
        action="workspace.ownership_transferred",
        actor=actor,
        target=target.user,
        metadata={"from": str(actor.pk), "to": str(target.user_id)},
        ip=ip,
    )


def _as_uuid(value, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise exceptions.ValidationError({field: ["Must be a valid UUID."]}) from None


# -- members -------------------------------------------------------------------------------------
def _assignable(role: str) -> str:
    if role == Role.OWNER:
        raise exceptions.ValidationError(
            {"role": ["Ownership moves only by transfer; choose admin, member or viewer."]}
        )
    return role


def _check_may_manage(*, membership: Membership, actor: User) -> None:
    """Admins manage members, viewers and themselves; another admin answers only to the owner.
    (Removal and demotion follow the same rule, or removing and re-inviting would bypass it.)"""
    if membership.role != Role.ADMIN or membership.user_id == actor.pk:
        return
    actor_role = (
        Membership.objects.filter(workspace_id=membership.workspace_id, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if actor_role != Role.OWNER:
        raise ApiError(
            "Only the owner can change or remove another admin.", code="permission_denied", status_code=403
        )


@transaction.atomic
def member_update_role(
    *, membership: Membership, role: str, actor: User, ip: str | None = None
) -> Membership:
    if membership.role == Role.OWNER:
        raise ApiError(
            "The owner's role changes only by transferring ownership.",
            code="owner_protected",
            status_code=409,
        )
    _check_may_manage(membership=membership, actor=actor)
    previous = membership.role
    membership.role = _assignable(role)
    membership.save(update_fields=["role"])
    audit_record(
        workspace=membership.workspace,
        action="member.role_changed",
        actor=actor,
        target=membership.user,
        metadata={"from": previous, "to": role},
        ip=ip,
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: User, ip: str | None = None) -> None:
    if membership.role == Role.OWNER:
        raise ApiError(
            "The owner cannot be removed; transfer ownership first.", code="owner_protected", status_code=409
        )
    _check_may_manage(membership=membership, actor=actor)
    audit_record(
        workspace=membership.workspace,
        action="member.removed",
        actor=actor,
        target=membership.user,
        metadata={"email": membership.user.email, "role": membership.role},
        ip=ip,
    )
    membership.delete()


# -- invitations ---------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, email: str, role: str, actor: User, ip: str | None = None
) -> Invitation:
    email = email.strip().lower()
    _assignable(role)
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict("This person is already a member of the workspace.", code="already_member")
    now = timezone.now()
    # A new invitation for the same address replaces a pending one (and its token).
    Invitation.objects.filter(
        workspace=workspace, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=actor,
        expires_at=now + timedelta(days=settings.PUSHPILOT_INVITATION_DAYS),
    )
    audit_record(
        workspace=workspace,
        action="invitation.created",
        actor=actor,
        target=invitation,
        metadata={"email": email, "role": role},
        ip=ip,
    )
    link = f"{settings.PUSHPILOT_PUBLIC_URL}/invitations/accept?token={token}"
    inviter = actor.full_name or actor.email
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{inviter} invited you to {workspace.name} on PushPilot",
            message=(
                f"{inviter} invited you to join the workspace '{workspace.name}' as {role}.\n\n"
                f"Accept the invitation: {link}\n\nThe link works once and expires in "
                f"{settings.PUSHPILOT_INVITATION_DAYS} days.\n\nInvitation token: {token}\n"
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User, ip: str | None = None) -> None:
    if invitation.status != "pending":
        raise Conflict(f"This invitation is {invitation.status}.", code="invitation_not_pending")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        workspace=invitation.workspace,
        action="invitation.revoked",
        actor=actor,
        target=invitation,
        metadata={"email": invitation.email},
        ip=ip,
    )


@transaction.atomic
def invitation_accept(
    *, token: str, user: User | None, password: str | None, full_name: str = "", ip: str | None = None
) -> tuple[Membership, User]:
    """Accept with a signed-in account (its email must match), with the password of the existing
    account for that email, or by creating the account with a new password."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("workspace")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if invitation is None or invitation.workspace.is_template:
        raise ApiError("This invitation link is not valid.", code="invitation_invalid", status_code=404)
    if invitation.status != "pending":
        raise ApiError(
            f"This invitation is {invitation.status}.",
            code=f"invitation_{invitation.status}",
            status_code=410,
        )
    existing = User.objects.filter(email__iexact=invitation.email).first()
    if user is not None:
        if user.email.lower() != invitation.email.lower():
            raise ApiError(
                "This invitation was sent to another email address.",
                code="invitation_email_mismatch",
                status_code=403,
            )
    elif existing is not None:
        if not password or not existing.check_password(password):
            raise ApiError(
                "An account with this email exists: sign in, or send its password.",
                code="invalid_credentials",
                status_code=401,
            )
        user = existing
    else:
        if not password:
            raise exceptions.ValidationError({"password": ["Choose a password to create your account."]})
        user = User(email=invitation.email, full_name=full_name, auth_provider=AuthProvider.EMAIL)
        _check_password(password, user)
        user.set_password(password)
        user.save()
    if Membership.objects.filter(workspace=invitation.workspace, user=user).exists():
        raise Conflict("You are already a member of this workspace.", code="already_member")
    now = timezone.now()
    membership = Membership.objects.create(
        workspace=invitation.workspace,
        user=user,
        role=invitation.role,
        status=MembershipStatus.ACTIVE,
        invited_at=invitation.created_at,
        joined_at=now,
    )
    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        workspace=invitation.workspace,
        action="invitation.accepted",
        actor=user,
        target=invitation,
        metadata={"email": invitation.email, "role": invitation.role},
        ip=ip,
    )
    return membership, user


def invitations_expire() -> int:
    """Housekeeping: pending invitations past their expiry are revoked so their tokens are dead rows."""
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=timezone.now()
    ).update(revoked_at=timezone.now())


# -- API keys ------------------------------------------------------------------------------------
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@transaction.atomic
def api_key_create(
    *, workspace: Workspace, name: str, scopes: list[str], actor: User, ip: str | None = None
) -> tuple[ApiKey, str]:
    """Returns the key and its full text, which is shown once and never stored."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        created_by=actor,
    )
    audit_record(
        workspace=workspace,
        action="api_key.created",
        actor=actor,
        target=key,
        metadata={"name": name, "scopes": key.scopes, "prefix": prefix},
        ip=ip,
    )
    return key, f"pp_live_{prefix}_{secret}"


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User, ip: str | None = None) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(
        workspace=key.workspace,
        action="api_key.revoked",
        actor=actor,
        target=key,
        metadata={"name": key.name, "prefix": key.prefix},
        ip=ip,
    )
