"""The API's JSON parser: exact decimals, and the bounds every body is held to."""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from zenskar import bounds


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows here")


class DecimalJSONParser(JSONParser):
    """JSON whose numbers with a fraction become ``Decimal``, never ``float``: ``12.10`` in a
    price stays exactly 12.10.

    Refused with a 400 before any view sees them: a body that is not JSON; ``NaN`` and
    ``Infinity``; nesting deeper than ``bounds.MAX_JSON_DEPTH``; a NUL character or a lone
    UTF-16 surrogate in any string or key (PostgreSQL can store neither).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding), parse_float=Decimal,
                              parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(
                f"The body is nested deeper than {bounds.MAX_JSON_DEPTH} levels.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {str(exc)[:200]}") from None
        problems = bounds.json_problems(data)
        if problems:
            raise ValidationError({path or "(body)": [why] for path, why in problems.items()})
        return data
