"""The usage dashboard, by page group: ``overview`` (and the live tail), ``meters``, ``sources``
(data sources and their syncs); ``text`` writes usage for people. Thin adapters: every read
filters by ``request.organization`` (row-level security is the second wall), every write goes
through ``metering.services`` or ``metering.sync``."""
