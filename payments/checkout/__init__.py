"""The hosted checkout: the page a tenant's customer pays on, reached by a signed, expiring link.

``links`` makes the checkout sessions and their links; ``services`` takes the money (one
SetupIntent per session, one payment per confirmed card, idempotent); ``views`` are the public
pages; ``api`` lets a tenant's own site open a session; ``urls`` route the public pages.

These pages are public entry points: no sign-in, no organization from a session. The signed
token names the organization and the session; each view resolves both from it and runs under
that organization's row-level security (see ``views.public_checkout``)."""
