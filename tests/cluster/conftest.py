"""The real API server tier: envtest on 127.0.0.1, or the cluster KUBELENS_TEST_KUBECONFIG names.

One API server serves the whole session (``api_server`` in tests/support/fixtures.py;
it starts in a few seconds once built); each test gets its own namespace. Operators
started here run as the real CLI or under
KopfRunner, against the same kubeconfig a user would hold.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.apiserver import ApiServer


@pytest.fixture
def namespace(api_server: ApiServer) -> Iterator[str]:
    name = api_server.new_namespace()
    try:
        yield name
    finally:
        api_server.kubectl("delete", "namespace", name, "--wait=false", check=False)
