"""The one error the pricing engine raises for bad specs and bad inputs."""

from __future__ import annotations

__all__ = ["PricingError", "PricingTypeError"]


class PricingError(ValueError):
    """A price spec or a pricing input is invalid.

    ``field`` is the path of the offending value inside the spec or the call, written the
    way an API error body names it (``"tiers[2].up_to"``, ``"quantity"``), so the API layer
    can turn it into a 400 that says which field and why without parsing the message.
    ``code`` names the kind of problem for machines (the API's ``codes``: ``required``,
    ``out_of_bounds``, ``invalid_tiers``...); ``invalid`` when the raiser gives none.
    """

    default_code = "invalid"

    def __init__(self, *, field: str, message: str, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code or self.default_code

    def within(self, prefix: str) -> PricingError:
        """The same error (same code) with its field nested under ``prefix`` (``"items[0]"``)."""
        joiner = "" if self.field.startswith("[") else "."
        return PricingError(field=f"{prefix}{joiner}{self.field}", message=self.message,
                            code=self.code)


class PricingTypeError(PricingError, TypeError):
    """A value of the wrong type, typically a ``float`` where a ``Decimal`` belongs.

    Both a :class:`PricingError` (it names the field) and a ``TypeError`` (like every
    other place in the platform that refuses a float).
    """

    default_code = "invalid_type"
