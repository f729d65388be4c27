"""Schema-driven fuzzing: whatever the OpenAPI document allows (and more), never a 5xx.

Runs on SQLite: the point is input handling, which is the same code on both backends.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from changetrail_api.app import create_app
from changetrail_api.settings import ApiSettings

ADMIN = "ak_live_fuzzing_admin_key_0123456789"
# Made when the module is imported (schemathesis reads the schema from the app then), so
# removed when the test process ends rather than by a fixture.
_directory = tempfile.mkdtemp(prefix="changetrail-fuzz-")
atexit.register(shutil.rmtree, _directory, ignore_errors=True)
_database = Path(_directory) / "fuzz.db"
app = create_app(
    ApiSettings(
        database_url=f"sqlite:///{_database}", bootstrap_api_key=ADMIN, rate_limit_per_minute=0
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_yields_a_server_error(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call(headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"], case.path
