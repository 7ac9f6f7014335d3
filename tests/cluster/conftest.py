"""The real API server tier: envtest on 127.0.0.1, or the cluster KUBELENS_TEST_KUBECONFIG names.

One API server serves the whole session (it starts in a few seconds once built); each
test gets its own namespace. Operators started here run as the real CLI or under
KopfRunner, against the same kubeconfig a user would hold.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.apiserver import (
    ApiServer,
    Unavailable,
    given_cluster,
    start_envtest,
    stop_envtest,
)


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    workdir = tmp_path_factory.mktemp("apiserver")
    given = given_cluster(workdir)
    if given is not None:
        given.install_crds()
        yield given
        return
    try:
        server = start_envtest(workdir)
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        server.install_crds()
        yield server
    finally:
        stop_envtest(workdir)


@pytest.fixture
def namespace(api_server: ApiServer) -> Iterator[str]:
    name = api_server.new_namespace()
    try:
        yield name
    finally:
        api_server.kubectl("delete", "namespace", name, "--wait=false", check=False)
