import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zenskar.settings")
django_application = get_wsgi_application()

# The entitlement check's hot path in front of Django (it hands Django every request it does
# not answer in full): entitlements.hot.
from entitlements.hot import answering_checks  # noqa: E402 - after Django is set up

application = answering_checks(django_application)
