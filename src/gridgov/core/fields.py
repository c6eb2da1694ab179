"""Model fields for personal data encrypted at rest (SM4, core/crypto.py)."""

from __future__ import annotations

from typing import Any

from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """Stored as SM4-GCM ciphertext, read back as text. It cannot be searched or compared in
    the database: pair it with a blind index (``crypto.blind_index``) where lookups are needed.

    ``max_length`` limits the plaintext (form and model validation), not the column.
    """

    def purpose(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value, self.purpose())

    def get_prep_value(self, value: Any) -> Any:
        # Always encrypt, even text that looks like ciphertext: what is in memory is plaintext.
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value, self.purpose())
