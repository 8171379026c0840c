from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from zenskar import bounds
from zenskar.money import minor_units


@extend_schema_field({
    "type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "1300.00",
    "description": "A decimal string with exactly its currency's minor digits (USD 2, JPY 0, "
                   "KWD 3), rounded half-up.",
})
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


# --- Inputs within the documented bounds (zenskar/bounds.py) ----------------------------------


def _bounded_decimal(*, maximum: Decimal, decimals: int, allow_negative: bool, **kwargs):
    kwargs.setdefault("min_value", -maximum if allow_negative else Decimal(0))
    kwargs.setdefault("max_value", maximum)
    integer_digits = len(str(int(maximum)))
    return serializers.DecimalField(max_digits=integer_digits + decimals,
                                    decimal_places=decimals, **kwargs)


def AmountInField(*, allow_negative: bool = False, **kwargs):  # noqa: N802 - a field factory
    """A money amount: 0 to one trillion, at most 4 decimals (``bounds.MAX_AMOUNT``)."""
    return _bounded_decimal(maximum=bounds.MAX_AMOUNT, decimals=bounds.AMOUNT_DECIMALS,
                            allow_negative=allow_negative, **kwargs)


def PriceNumberInField(*, allow_negative: bool = False, **kwargs):  # noqa: N802
    """A unit price or a quantity: up to 10^15, at most 10 decimals."""
    return _bounded_decimal(maximum=bounds.MAX_PRICE_NUMBER, decimals=bounds.PRICE_DECIMALS,
                            allow_negative=allow_negative, **kwargs)


def _check_date(value):
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise serializers.ValidationError(str(error)) from None


class BoundedDateField(serializers.DateField):
    """A date from 1970-01-01 to 2200-12-31."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(_check_date)


class BoundedDateTimeField(serializers.DateTimeField):
    """An instant from 1970-01-01 to 2200-12-31, with a time zone."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(_check_date)
