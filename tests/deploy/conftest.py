"""One production server per test session (per xdist worker), started as `make serve` does."""

import pytest

from tests.deploy.server import Server, alive, start


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Server:
    server = start(tmp_path_factory.mktemp("served"))
    server.wait_until_answering()
    yield server
    # Graceful shutdown is part of the contract: SIGTERM stops master and workers, with
    # status 0, within the graceful timeout. A failure here is reported as an error at the
    # teardown of the last test that used the server.
    workers = server.worker_pids()
    status = server.stop()
    assert status == 0, f"gunicorn exited with {status} on SIGTERM\n{server.logs()}"
    assert not [pid for pid in workers if alive(pid)], "workers outlived the master"
    assert "Shutting down: Master" in server.stderr.read_text()
