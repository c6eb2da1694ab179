from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from gridgov.regions.models import Grid


def home(request: HttpRequest) -> HttpResponse:
    current = Grid.objects.filter(effective_to__isnull=True)
    context = {
        "grid_count": current.count(),
        "synthetic": current.filter(synthetic=True).exists(),
    }
    return render(request, "home.html", context)
