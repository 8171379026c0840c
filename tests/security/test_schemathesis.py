"""Every operation of the published OpenAPI schema, called with inputs schemathesis generates
from it -- valid ones and deliberately invalid ones -- with a valid key, on an organization that
has one object of every kind (the path ids point at real objects).

The build fails on any 5xx and on any response the schema does not describe: an undocumented
status code, a body that does not match its schema, a wrong content type or header. A fixed
seed (``derandomize``) and a fixed number of examples per operation keep the run repeatable and
within a few minutes; the totals are printed at the end of the session.

One pytest test per operation, each a Hypothesis test over the operation's strategies (valid
inputs, invalid inputs and the schema's own examples): plain parametrization, which
pytest-xdist distributes like any other test (schemathesis's own ``parametrize`` collects as
one test under xdist).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.world import SCHEMATHESIS_TALLY
from zenskar.wsgi import application

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
SCHEMATHESIS_TALLY["examples_per_operation"] = EXAMPLES_PER_OPERATION


OPERATIONS = sorted((result.ok() for result in schema.get_all_operations()),
                    key=lambda operation: operation.label)


def _cases(operation, mode: GenerationMode) -> st.SearchStrategy:
    """Valid inputs and the schema's examples, or invalid inputs: ``EXAMPLES_PER_OPERATION``
    of each."""
    if mode is GenerationMode.NEGATIVE:
        return operation.as_strategy(generation_mode=mode)
    return st.one_of(operation.as_strategy(generation_mode=mode),
                     *operation.get_strategies_from_examples())


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.label for o in OPERATIONS])
@pytest.mark.parametrize("mode", list(GenerationMode), ids=[m.value for m in GenerationMode])
@pytest.mark.django_db
def test_every_operation_answers_as_documented(operation, mode, world_tenant, world,
                                               wsgi_calls):
    key = world_tenant.client()._credentials["HTTP_AUTHORIZATION"]

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=_cases(operation, mode))
    def answers_as_documented(case):
        for name in case.path_parameters or {}:
            if name in world:  # aim at a real object; "action" and such stay generated
                case.path_parameters[name] = world[name]
        SCHEMATHESIS_TALLY["operations"].add(case.operation.label)
        SCHEMATHESIS_TALLY["cases"] += 1
        case.call_and_validate(headers={"Authorization": key}, checks=CHECKS)

    answers_as_documented()
