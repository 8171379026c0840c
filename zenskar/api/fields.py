from decimal import Decimal

from rest_framework import serializers

from zenskar.money import minor_units


class AmountField(serializers.Field):
    """A money amount as a decimal string with exactly its currency's minor digits
    ("1300.00" in USD, "3704" in JPY, "1.250" in KWD). The currency is read from the object
    (``currency``, or ``invoice.currency`` for a line)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        currency = getattr(instance, "currency", None) or instance.invoice.currency
        return value, currency

    def to_representation(self, pair):
        value, currency = pair
        if value is None:
            return None
        exponent = Decimal(1).scaleb(-minor_units(currency))
        return str(Decimal(value).quantize(exponent))
