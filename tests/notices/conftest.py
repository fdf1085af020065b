from tests.billing.conftest import at, cameras, card  # noqa: F401 (fixtures)
