"""A paper contract as the API takes it: two yearly phases, a platform fee, seats and graduated
API calls with a discount on the first three periods, and a launch credit on the contract."""

TWO_PHASES = {
    "customer": "acme-42",
    "name": "Acme platform agreement",
    "reference": "MSA-2026-001",
    "start_date": "2026-01-01",
    "end_date": "2028-01-01",
    "cadence": "monthly",
    "anchor": "calendar",
    "auto_renew": True,
    "renewal_term_months": 12,
    "renewal_notice_days": 60,
    "variables": {"committed_seats": "25"},
    "phases": [
        {
            "name": "Year 1",
            "start_date": "2026-01-01",
            "end_date": "2027-01-01",
            "items": [
                {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                 "pricing": {"amount": "1000.00"}},
                {"product": "SEATS", "model": "per_unit", "timing": "advance",
                 "quantity": "25", "pricing": {"unit_price": "12.00"}},
                {"product": "API", "model": "graduated", "timing": "arrears",
                 "meter": "api_calls",
                 "pricing": {"tiers": [
                     {"up_to": "100000", "unit_price": "0"},
                     {"up_to": "1000000", "unit_price": "0.002"},
                     {"up_to": None, "unit_price": "0.001"},
                 ]},
                 "discounts": [{"kind": "percent", "value": "10", "periods": 3}]},
            ],
        },
        {
            "name": "Year 2",
            "start_date": "2027-01-01",
            "end_date": "2028-01-01",
            "items": [
                {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                 "pricing": {"amount": "1200.00"}},
            ],
        },
    ],
    "discounts": [{"kind": "fixed", "value": "100.00", "starts_on": "2026-01-01",
                   "ends_on": "2026-04-01", "description": "Launch credit"}],
}
