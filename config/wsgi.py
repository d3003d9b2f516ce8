import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their models, and the URLconf with every view
# module it imports, which Django would otherwise load on the first request) lives as long
# as the process. Freezing it takes it out of the cyclic garbage collector, whose full
# collections otherwise walk all of it: about 75 ms with every thread of the worker
# stopped, once every thousand or so bookings (0.14 ms per booking, 0.06 ms frozen).
get_resolver().url_patterns  # noqa: B018 (the import is the point)
gc.freeze()
