import uuid

from django.db import models


class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    client_id = models.CharField(max_length=80, unique=True)
    title = models.CharField(max_length=100)
    description = models.TextField()
    lon = models.FloatField()
    lat = models.FloatField()
    category = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class Entry(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE)
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=20)
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.action
