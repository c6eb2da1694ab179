import os

from django.core.wsgi import get_wsgi_application

from gridgov.core.memory import release_large_buffers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
release_large_buffers()  # decoded photos go back to the OS when done (core/memory.py)
application = get_wsgi_application()
