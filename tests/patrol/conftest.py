import pytest


@pytest.fixture(autouse=True)
def _midday(midday: None) -> None:
    """Patrols are listed by local day: see tests/conftest.py ``midday``."""
