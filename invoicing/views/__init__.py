"""The invoicing dashboard, by page group: ``invoices`` (list, one invoice, hand edits, credit
notes), ``money`` (credit notes list, customer balance), ``template_editor``, ``settings``
(settings and tax rates); ``text`` writes amounts for people. The JSON API is ``invoicing.api``."""
