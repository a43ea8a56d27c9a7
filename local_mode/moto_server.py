"""moto's server with the one SageMaker call moto 5.2.5 lacks: ``UpdateEndpoint``.

``deploy_model`` redeploys an existing endpoint with ``UpdateEndpoint`` (new endpoint config,
same endpoint, no downtime). moto answers every other SageMaker call we make; this adds
UpdateEndpoint with SageMaker's observable effect -- the endpoint now names the new config
and its variants, and stays InService -- before starting moto's own server.

Run as ``python -m local_mode.moto_server -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main


def _update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config: dict[str, Any] = self.describe_endpoint_config(endpoint_config_name)
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.last_modified_time = utcnow()
    return endpoint


def _update_endpoint_action(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


SageMakerModelBackend.update_endpoint = _update_endpoint  # type: ignore[attr-defined]
SageMakerResponse.update_endpoint = _update_endpoint_action  # type: ignore[attr-defined]

if __name__ == "__main__":
    main()
