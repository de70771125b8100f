"""The emulator controls (``/_emulator/``, served by ``openwelkin serve --emulator``)
from Python, and a reusable pytest fixture pattern built on them.

``Emulator`` is a thin client of the control API: every method returns the
``requests.Response`` (tests assert the status themselves) except the ``*_ok``
helpers, which assert success and return the JSON.

The fixture pattern, for a test suite of your own::

    # conftest.py
    import pytest
    from emulator_fixture import Emulator

    @pytest.fixture(scope="session")
    def emulator():
        return Emulator("http://127.0.0.1:8080", "my-emulator-token")

    @pytest.fixture
    def clean_sandbox(emulator):
        # every test starts on an empty instance: patients, records, messages,
        # documents ... are gone; formation, users and API clients stay.
        emulator.reset_ok("mytenant", "sandbox")
        yield
        emulator.clear_faults_ok()

    def test_something(clean_sandbox, welkin_client):
        assert welkin_client.Patients().get() == []

``fresh_instance`` below is exactly that, on the dedicated ``emu_tenant`` of
this suite (see conftest.py): the shared test tenant is never reset.
"""

from __future__ import annotations

import pytest
import requests

RAW_TIMEOUT = 10


class Emulator:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    # -- plumbing -----------------------------------------------------------
    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", RAW_TIMEOUT)
        return self.session.request(method, f"{self.base}/_emulator/{path.lstrip('/')}", **kwargs)

    def _ok(self, response: requests.Response, *statuses: int):
        assert response.status_code in (statuses or (200,)), (
            response.request.method, response.request.url, response.status_code, response.text)
        return response.json() if response.content else None

    @staticmethod
    def _inst(tenant: str, instance: str) -> str:
        return f"tenants/{tenant}/instances/{instance}"

    # -- reset / seed -------------------------------------------------------
    def reset(self, tenant, instance=None):
        if instance is None:
            return self.request("POST", f"tenants/{tenant}/reset")
        return self.request("POST", f"{self._inst(tenant, instance)}/reset")

    def reset_ok(self, tenant, instance=None):
        return self._ok(self.reset(tenant, instance))

    def seed(self, tenant, instance, **body):
        return self.request("POST", f"{self._inst(tenant, instance)}/seed", json=body)

    def seed_ok(self, tenant, instance, **body):
        return self._ok(self.seed(tenant, instance, **body), 201)

    # -- snapshots ----------------------------------------------------------
    def save(self, tenant, instance, name):
        return self.request("PUT", f"{self._inst(tenant, instance)}/snapshots/{name}")

    def restore(self, tenant, instance, name):
        return self.request("POST", f"{self._inst(tenant, instance)}/snapshots/{name}/restore")

    def snapshots(self, tenant, instance):
        return self.request("GET", f"{self._inst(tenant, instance)}/snapshots")

    def drop(self, tenant, instance, name):
        return self.request("DELETE", f"{self._inst(tenant, instance)}/snapshots/{name}")

    # -- outboxes -----------------------------------------------------------
    def outbox(self, tenant, instance, kind):
        return self.request("GET", f"{self._inst(tenant, instance)}/outbox/{kind}")

    def outbox_items(self, tenant, instance, kind) -> list:
        return self._ok(self.outbox(tenant, instance, kind))["items"]

    def clear_outbox(self, tenant, instance, kind):
        return self.request("DELETE", f"{self._inst(tenant, instance)}/outbox/{kind}")

    # -- webhooks -----------------------------------------------------------
    def webhook_mode(self, on_demand=None):
        if on_demand is None:
            return self.request("GET", "webhooks/mode")
        return self.request("PUT", "webhooks/mode", json={"onDemand": on_demand})

    def deliver(self):
        return self.request("POST", "webhooks/deliver")

    # -- faults -------------------------------------------------------------
    def add_fault(self, **rule):
        return self.request("POST", "faults", json=rule)

    def add_fault_ok(self, **rule) -> dict:
        return self._ok(self.add_fault(**rule), 201)

    def faults(self) -> list:
        return self._ok(self.request("GET", "faults"))["faults"]

    def clear_faults_ok(self):
        return self._ok(self.request("DELETE", "faults"))

    def drop_fault(self, rule_id):
        return self.request("DELETE", f"faults/{rule_id}")


# ---------------------------------------------------------------------------
# fixtures (imported by the test modules that use them)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def emulator(ow):
    return Emulator(ow.base, ow.emulator_token)


@pytest.fixture
def fresh_instance(emulator, emu_tenant):
    """The pattern: reset the emulator instance before (and after) each test,
    and never leave a fault rule or on-demand webhooks behind. Yields
    (tenant env, instance name)."""
    env = emu_tenant
    emulator.reset_ok(env.tenant, "sandbox")
    try:
        yield env, "sandbox"
    finally:
        emulator.clear_faults_ok()
        emulator.webhook_mode(False)
        emulator.reset_ok(env.tenant, "sandbox")
