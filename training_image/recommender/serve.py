"""The SageMaker inference server: gunicorn workers serving ``GET /ping`` and ``POST /invocations``.

The model is loaded once from ``$OPT_ML/model`` before the workers fork (they share its
arrays). Answers: 400 for a malformed body, 413 over 6 MB, 415 for content types other than
``text/csv`` and ``application/json``. Listens on ``SAGEMAKER_BIND_TO_PORT`` (default 8080);
``SAGEMAKER_MODEL_SERVER_WORKERS`` sets the worker count (default: one per CPU).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import falcon
from gunicorn.app.base import BaseApplication

from pipeline_shared import first_line
from recommender.inference import CSV, JSON, RequestError, TooLargeError, answer
from recommender.model import FactorModel, ModelFormatError
from recommender.paths import OptMl

MAX_BODY = 6 * 1024 * 1024
BODY_TIMEOUT_S = 10  # longest wait for a request body, which SageMaker's front end sends whole
THREADS = 32  # per worker: /ping keeps a free thread while invocations run or clients stall
log = logging.getLogger("recommender.serve")


class Ping:
    def __init__(self, model: FactorModel) -> None:
        self.model = model

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.text = f'{{"status":"healthy","users":{self.model.n_users},"movies":{self.model.n_items}}}'


class Invocations:
    def __init__(self, model: FactorModel) -> None:
        self.model = model

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        media = (req.content_type or "").split(";")[0].strip().lower()
        if media not in (CSV, JSON):
            raise falcon.HTTPUnsupportedMediaType(
                description=f"Content type {media or '(none)'!r} is not supported: send text/csv or application/json."
            )
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise _too_large()
        # A chunked body has no Content-Length: falcon's bounded stream would read nothing, so read
        # the server's (de-chunked) input itself, never more than the limit.
        stream = req.bounded_stream if req.content_length is not None else req.stream
        connection = req.env.get("gunicorn.socket")
        if connection is not None:  # a client that stalls mid-body frees its thread instead of holding it
            connection.settimeout(BODY_TIMEOUT_S)
        try:
            body = stream.read(MAX_BODY + 1)
        except TimeoutError:
            raise falcon.HTTPError(
                falcon.HTTP_408,
                description=f"The body did not arrive within {BODY_TIMEOUT_S} s: send it whole.",
                headers={"Connection": "close"},
            ) from None
        if len(body) > MAX_BODY:
            raise _too_large()
        try:
            result = answer(self.model, media, body)
        except TooLargeError as exc:
            raise falcon.HTTPContentTooLarge(description=str(exc)) from None
        except RequestError as exc:
            raise falcon.HTTPBadRequest(title="Bad request", description=str(exc)) from None
        resp.content_type = result.content_type
        resp.data = result.body


def _too_large() -> falcon.HTTPContentTooLarge:
    return falcon.HTTPContentTooLarge(
        description=f"The body is over {MAX_BODY // (1024 * 1024)} MB: split the request."
    )


def create_app(model: FactorModel) -> falcon.App:
    """The WSGI application for a loaded model."""
    app = falcon.App()
    app.add_route("/ping", Ping(model))
    app.add_route("/invocations", Invocations(model))
    return app


class _Gunicorn(BaseApplication):
    def __init__(self, app: falcon.App, options: dict[str, Any]) -> None:
        self.app, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> falcon.App:
        return self.app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="serve",
        description="Serve the trained recommender from $OPT_ML/model (OPT_ML defaults to /opt/ml).",
    )
    # SageMaker reaches the container on all interfaces; tests pass --host 127.0.0.1.
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")),
        help="port (default $SAGEMAKER_BIND_TO_PORT or 8080)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", str(os.cpu_count() or 1))),
        help="worker processes (default $SAGEMAKER_MODEL_SERVER_WORKERS or one per CPU)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    model_dir = OptMl.from_env().model_dir
    try:
        model, metadata = FactorModel.load(model_dir)
    except ModelFormatError as exc:  # a damaged model never answers /ping: SageMaker reports the failure
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:  # anything else still ends in one sentence, not a traceback
        print(f"Cannot load the model in {model_dir} ({first_line(exc)}): retrain the model.", file=sys.stderr)
        return 1
    # Build the id lookups and the scoring matrix once, before forking: the workers share them.
    model.predict(model.user_ids[:1], model.item_ids[:1])
    model.recommend(model.user_ids[:1], 1)
    log.info(
        "loaded model %s (%s): %d users, %d movies, %d factors%s",
        metadata.get("model_version"),
        metadata.get("algorithm", "svd"),  # models before format 3 are all svd's
        model.n_users,
        model.n_items,
        model.user_factors.shape[1],
        "" if model.predictions is None else ", every known pair's estimate",
    )
    _Gunicorn(
        create_app(model),
        {
            "bind": f"{args.host}:{args.port}",
            "workers": max(1, args.workers),
            "worker_class": "gthread",
            "threads": THREADS,
            "timeout": 60,  # SageMaker's invocation limit
            "graceful_timeout": 25,  # SageMaker sends SIGKILL 30 s after SIGTERM
            "keepalive": 75,
            "preload_app": True,
            "errorlog": "-",
            "control_socket_disable": True,  # one server per container; nothing to control
        },
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
