"""The upper-level exchange's tables.

As a child (a city): the items themselves are core Outbox rows (channel "exchange"), written in
the transaction of the change; ``Outgoing`` gives each its place in this node's sequence and
``SendState`` is the one sender's cursor and health. As a parent (a province): ``Node`` is a
registered child with its key, ``ReceivedItem`` what it sent, each item once.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.core.fields import EncryptedTextField


class SendState(models.Model):
    """One row: how far the stream to the parent got, and how its last attempts went."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)  # the last sequence number given out
    acked_seq = models.BigIntegerField(default=0)  # every item up to here is at the parent
    failures = models.PositiveIntegerField(default=0)  # in a row, for the backoff
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("exchange sender")
        verbose_name_plural = _("exchange sender")

    def __str__(self) -> str:
        return f"sent up to {self.acked_seq} of {self.last_seq}"


class Outgoing(models.Model):
    """An outbox item's sequence number, given once, in the order items were queued."""

    seq = models.BigIntegerField(primary_key=True)
    outbox_id = models.UUIDField(unique=True)

    class Meta:
        verbose_name = _("outgoing exchange item")
        verbose_name_plural = _("outgoing exchange items")

    def __str__(self) -> str:
        return f"#{self.seq} {self.outbox_id}"


class Node(models.Model):
    """A child platform allowed to push here. Its key must be read back to check signatures
    (HMAC is symmetric), so it is stored encrypted (SM4 under the key directory), never hashed."""

    code = models.CharField(_("node"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    secret = EncryptedTextField(_("key"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)

    class Meta:
        verbose_name = _("child node")
        verbose_name_plural = _("child nodes")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ReceivedItem(models.Model):
    """One item a child sent, stored once however often it arrives."""

    node = models.ForeignKey(
        Node, verbose_name=_("node"), on_delete=models.PROTECT, related_name="items"
    )
    item_id = models.UUIDField(_("item id"))
    seq = models.BigIntegerField(_("sequence"))
    kind = models.CharField(_("kind"), max_length=32)
    at = models.DateTimeField(_("time at the child"))
    payload = models.JSONField(_("content"), default=dict)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("received exchange item")
        verbose_name_plural = _("received exchange items")
        ordering = ["node", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["node", "item_id"], name="exchange_item_once")
        ]
        indexes = [
            models.Index(fields=["node", "seq"], name="exchange_item_seq_idx"),
            models.Index(fields=["kind", "at"], name="exchange_item_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} #{self.seq} {self.kind}"
