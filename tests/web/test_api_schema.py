"""The JSON API does what /api/v1/openapi.json says: Schemathesis generates requests for every operation
of the document (valid ones and invalid ones) with a site administrator's token, and checks that no
answer is a server error, that each has a documented status, a documented content type and a body
matching the document, and that a request the document calls invalid is refused. A fixed seed per
operation, without Hypothesis' database or shrinking, a few examples per operation; bench/fuzz.py runs
more."""
from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

from portal.domain import api_tokens
from tests import factories as f, fuzzing

EXAMPLES = 10
SCHEMA_FUZZ = settings(max_examples=EXAMPLES, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                       suppress_health_check=list(HealthCheck))


def test_the_api_conforms_to_its_openapi_document(app, sim):
    with f.app_session(app) as s:
        admin = f.make_user(s, site_admin=True)
        token = api_tokens.create_token(s, admin.id, "schemathesis")
        project = f.Setup(s, sim).project.id
    ran, failures = fuzzing.schemathesis_failures(app, token, SCHEMA_FUZZ, project_id=project)
    assert ran >= EXAMPLES
    assert not failures, f"{len(failures)} operations disagree with the document:\n" + "\n\n".join(failures)
