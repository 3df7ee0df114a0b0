"""The suite's fixtures. The signing and webhook tests run anywhere; the others need a running
`sanhu serve` (sdks/test.sh starts two): SANHU_TEST_CREDENTIALS names its credential file and
SANHU_TEST_LIMITED_CREDENTIALS one of a server started with rate_limit_per_s = 1 and
rate_limit_burst = 1. Without them those tests are skipped, unless SANHU_TEST_REQUIRE_SERVER=1, when
they fail."""

import json
import os
import secrets
from pathlib import Path

import pytest

import sanhu

REPO = Path(__file__).resolve().parents[3]


def _credentials(variable):
    path = os.environ.get(variable)
    if not path:
        if os.environ.get("SANHU_TEST_REQUIRE_SERVER") == "1":
            pytest.fail(f"{variable} is not set and SANHU_TEST_REQUIRE_SERVER=1")
        pytest.skip(f"{variable} is not set: no sanhu serve to test against")
    return path


@pytest.fixture(scope="session")
def example():
    path = Path(os.environ.get("SANHU_SIGNATURE_EXAMPLE", REPO / "docs" / "signature-example.json"))
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def client():
    return sanhu.Client.from_credentials(_credentials("SANHU_TEST_CREDENTIALS"))


@pytest.fixture(scope="session")
def limited_credentials():
    return _credentials("SANHU_TEST_LIMITED_CREDENTIALS")


@pytest.fixture
def run_id():
    """A prefix that keeps this run's order numbers apart from other runs' on the same server."""
    return "py-" + secrets.token_hex(4)


@pytest.fixture
def new_phone():
    def make():
        return "139" + "".join(secrets.choice("0123456789") for _ in range(8))

    return make
