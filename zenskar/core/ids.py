"""Time-ordered ids for rows written by the thousand (RFC 9562 UUID version 7).

A random id (version 4) lands anywhere in its table's primary-key index, so a large insert
touches a page of the index per row; a version 7 id starts with the time in milliseconds, so
the rows of a run go to the index's right edge together. The rest is random (74 bits): ids
are as opaque and as unique as version 4 for the people who see them.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUID version 7: 48 bits of Unix time in milliseconds, version, 74 random bits."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    random = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76                                   # version 7
    value |= ((random >> 62) & 0xFFF) << 64               # rand_a: 12 bits
    value |= 0b10 << 62                                   # the RFC 4122 variant
    value |= random & 0x3FFF_FFFF_FFFF_FFFF               # rand_b: 62 bits
    return uuid.UUID(int=value)
