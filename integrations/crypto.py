"""Encryption of stored secrets: MultiFernet over per-workspace keys.

Every master key in ``settings.PUSHPILOT_ENCRYPTION_KEYS`` (Fernet keys, the first encrypts) is
stretched with HKDF into a key for one workspace (the workspace id is HKDF's ``info``), so a
ciphertext copied into another workspace's row does not decrypt there. The plaintext also carries a
*purpose* (model, field and row id) that is checked on decryption, so it cannot be moved to another
row or column of the same workspace either.

Other apps that store a secret register its column with ``register_encrypted_field`` so that
``manage.py rotate_encryption_keys`` re-encrypts it too.
"""

from __future__ import annotations

import base64
import functools
import hmac
import uuid
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_SALT = b"pushpilot/secrets/v1"
_SEPARATOR = b"\x00"


class SecretUnreadable(Exception):
    """The ciphertext does not decrypt with any configured key for this workspace and purpose."""


def _master_keys() -> tuple[str, ...]:
    keys = tuple(k for k in settings.PUSHPILOT_ENCRYPTION_KEYS if k)
    if not keys:
        raise ImproperlyConfigured("PUSHPILOT_ENCRYPTION_KEYS is empty; set at least one Fernet key.")
    return keys


@functools.lru_cache(maxsize=4096)
def _fernets_for(master_keys: tuple[str, ...], workspace_id: uuid.UUID) -> tuple[Fernet, ...]:
    derived = []
    for master in master_keys:
        try:
            raw = base64.urlsafe_b64decode(master.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                "PUSHPILOT_ENCRYPTION_KEYS holds a value that is not a Fernet key."
            ) from exc
        if len(raw) != 32:
            raise ImproperlyConfigured("PUSHPILOT_ENCRYPTION_KEYS holds a value that is not a Fernet key.")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"workspace:" + workspace_id.bytes)
        derived.append(Fernet(base64.urlsafe_b64encode(hkdf.derive(raw))))
    return tuple(derived)


def _fernets(workspace_id) -> tuple[Fernet, ...]:
    return _fernets_for(_master_keys(), uuid.UUID(str(workspace_id)))


def _fernet(workspace_id) -> MultiFernet:
    return MultiFernet(_fernets(workspace_id))


def encrypt_secret(*, workspace_id, purpose: str, plaintext: bytes) -> str:
    """Encrypt ``plaintext`` for one workspace and one purpose (``secret_purpose(...)``)."""
    return _fernet(workspace_id).encrypt(purpose.encode() + _SEPARATOR + plaintext).decode()


def decrypt_secret(*, workspace_id, purpose: str, token: str) -> bytes:
    try:
        data = _fernet(workspace_id).decrypt(token.encode())
    except (InvalidToken, ValueError, TypeError):
        raise SecretUnreadable("The stored secret does not decrypt with the configured keys.") from None
    stored_purpose, sep, plaintext = data.partition(_SEPARATOR)
    if not sep or not hmac.compare_digest(stored_purpose, purpose.encode()):
        raise SecretUnreadable("The stored secret belongs to another record.")
    return plaintext


def reencrypt_secret(*, workspace_id, purpose: str, token: str) -> str:
    """Decrypt with any configured key and encrypt again with the first one."""
    plaintext = decrypt_secret(workspace_id=workspace_id, purpose=purpose, token=token)
    return encrypt_secret(workspace_id=workspace_id, purpose=purpose, plaintext=plaintext)


def encrypted_with_primary_key(*, workspace_id, token: str) -> bool:
    """True if ``token`` was made with the first (current) key, i.e. needs no rotation."""
    primary = _fernets(workspace_id)[0]
    try:
        primary.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def secret_purpose(model_label: str, field: str, pk) -> str:
    return f"{model_label}.{field}:{pk}"


# -- which columns hold secrets (for rotate_encryption_keys) --------------------------------------
_ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    "integrations.App": ("service_account_encrypted", "vapid_private_key_encrypted"),
}


def register_encrypted_field(model_label: str, *fields: str) -> None:
    """Declare tenant-schema columns holding ``encrypt_secret`` output with purpose
    ``secret_purpose(model_label, field, row.pk)``. Call from ``AppConfig.ready``."""
    known = _ENCRYPTED_FIELDS.get(model_label, ())
    _ENCRYPTED_FIELDS[model_label] = tuple(dict.fromkeys((*known, *fields)))


def encrypted_fields() -> Iterable[tuple[str, tuple[str, ...]]]:
    return tuple(_ENCRYPTED_FIELDS.items())
