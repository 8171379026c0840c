"""The entitlements dashboard, by page group: ``features`` (the Entitlements page and a
feature's page), and the panels it adds to the pages of the earlier apps
(``zenskar.dashboard.panels``): ``customer_panel`` (usage against each limit, prepaid lots),
``product_panel`` (what a product includes), ``contract_panel`` (what a contract grants, and a
change of it from a date); ``common`` is what they share.

Thin adapters: reads through ``entitlements.selectors``, every write through
``entitlements.services`` (a contract's overrides through
``contracts.services.contract_entitlements_set``), whose refusals are shown on the form they
are about."""
