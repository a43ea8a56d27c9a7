"""deploy_model: the time budget (a hung SageMaker call ends within one call's bound, waits never pass the deadline)
and the step an endpoint needs, by the state SageMaker reports.

The hung call is real: boto3 talks to a loopback socket that accepts connections and never answers
(botocore's read timeout: https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html).
"""

import socket
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from external_functions import aws, deployment, handlers
from external_functions.errors import CallerError, UnavailableError
from external_functions.protocol import sentence
from local_mode.snowflake_calls import proxy_event
from local_mode.standins import LOOPBACK
from tests.support.lambda_env import TRAINING_ENV

MODEL_URI = "s3://recsys-artifacts/recsys/models/manual/output/model.tar.gz"


class SilentServer:
    """Accepts TCP connections and never answers; counts them."""

    def __init__(self) -> None:
        self.socket = socket.create_server((LOOPBACK, 0))
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def silent_aws(monkeypatch, tmp_path) -> Iterator[SilentServer]:
    """The deploy Lambda's environment with every AWS endpoint pointed at a server that never answers."""
    server = SilentServer()
    for name, value in {
        **TRAINING_ENV,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    aws.reset_clients()  # clients are cached per container: build them under this environment
    yield server
    aws.reset_clients()  # and leave none pointed at the silent server
    server.close()


def test_a_hung_sagemaker_call_is_one_bounded_attempt_answered_503(silent_aws) -> None:
    """Before: 4 attempts of botocore's 60 s read timeout, far past API Gateway's 29 s."""
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 28_000, aws_request_id="hung")
    answer = handlers.deploy_handler(proxy_event("deploy_model", [["movielens", MODEL_URI]]), context)
    assert answer["statusCode"] == 503, answer["body"]
    assert answer["body"].startswith("SageMaker could not be reached while looking up endpoint recsys-movielens;")
    assert answer["body"].endswith("; Snowflake will retry.")
    assert len(silent_aws.connections) == 1  # one attempt: the bound holds, Snowflake is the retry loop


def test_every_call_is_bounded_by_its_timeouts(silent_aws) -> None:
    config = aws.sagemaker().meta.config
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT_S, aws.READ_TIMEOUT_S)
    assert config.retries["total_max_attempts"] == 1  # botocore's "max_attempts" would count retries only
    assert aws.sagemaker_runtime(9).meta.config.retries["total_max_attempts"] == 1
    assert aws.CALL_BOUND_S == aws.CONNECT_TIMEOUT_S + aws.READ_TIMEOUT_S < handlers.API_GATEWAY_LIMIT_S / 4


def invisible(calls: list[float], clock: "FakeClock") -> Callable[[], None]:
    """A CreateEndpoint that SageMaker refuses while it cannot see the new config."""

    def call() -> None:
        calls.append(clock())
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "Could not find endpoint configuration recsys-x."}},
            "CreateEndpoint",
        )

    return call


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("room", [0.0, 0.6, 1.6, 3.6, 100.0])
def test_the_waits_for_a_new_config_never_sleep_past_the_budget(room: float) -> None:
    clock, calls = FakeClock(), []
    deadline = clock.now + aws.CALL_BOUND_S + room
    with pytest.raises(UnavailableError, match="does not see endpoint config recsys-x yet"):
        deployment.when_config_visible(invisible(calls, clock), "recsys-x", deadline, clock.sleep, clock)
    assert all(at + aws.CALL_BOUND_S <= deadline for at in calls)  # each attempt could still end in time
    assert sum(clock.slept) <= room
    waits = deployment.CONFIG_VISIBLE_WAITS_S
    assert clock.slept == [wait for i, wait in enumerate(waits) if sum(waits[: i + 1]) <= room]


def test_without_a_budget_every_wait_is_taken() -> None:
    clock, calls = FakeClock(), []
    with pytest.raises(UnavailableError):
        deployment.when_config_visible(invisible(calls, clock), "recsys-x", None, clock.sleep, clock)
    assert clock.slept == list(deployment.CONFIG_VISIBLE_WAITS_S) and len(calls) == 4


# --- next_step: what an endpoint needs to serve a config, by the state SageMaker reports -----------------------


def step(state: str | None, config: str = "old", *, serves_serverless: bool | None = False) -> str:
    current = None if state is None else {"EndpointStatus": state, "EndpointConfigName": config}
    asked: list[str] = []

    def serves(name: str) -> bool | None:
        asked.append(name)
        return serves_serverless

    chosen = deployment.next_step(
        current, "new", serverless=False, serves_serverless=serves, endpoint="p-m", model="m", row=4
    )
    assert asked in ([], ["old"])  # the config's type is read only when it decides
    return chosen


@pytest.mark.parametrize(
    ("state", "config", "serves_serverless", "expected"),
    [
        (None, "old", False, "create"),
        ("Failed", "new", False, "recreate"),  # DeleteEndpoint is all a failed endpoint accepts
        ("UpdateRollbackFailed", "new", False, "update"),  # mixed configs: set the wanted one again
        ("InService", "new", False, "unchanged"),  # a retry of a deployment that went through
        ("InService", "old", False, "update"),
        ("InService", "old", None, "update"),  # the old config is gone: UpdateEndpoint still works
        ("InService", "old", True, "recreate"),  # serverless to instances: UpdateEndpoint cannot
        ("OutOfService", "old", False, "update"),
    ],
)
def test_next_step_by_state(state, config, serves_serverless, expected):
    assert step(state, config, serves_serverless=serves_serverless) == expected


@pytest.mark.parametrize("state", ["Deleting", "Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_next_step_refuses_while_sagemaker_is_busy_with_the_endpoint(state):
    with pytest.raises(CallerError) as info:
        step(state)
    assert sentence(info.value).startswith(
        f"Row 4: endpoint p-m is {'being deleted' if state == 'Deleting' else state}"
    )
    assert "pipeline_status('m')" in sentence(info.value)
