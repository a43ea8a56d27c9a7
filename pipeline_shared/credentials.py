"""Snowflake credentials: key-pair from AWS Secrets Manager, or a password for local stand-ins.

The secret's value is one of
- a PEM private key (``-----BEGIN PRIVATE KEY-----...``), used with ``SNOWFLAKE_JWT``;
- a JSON object ``{"private_key": "<PEM>", "private_key_passphrase": "..."}`` (passphrase
  optional), used with ``SNOWFLAKE_JWT``;
- a JSON object ``{"password": "..."}`` -- accepted only by a stand-in on this machine, in a process
  started with ``RECOMMENDER_LOCAL_STANDIN=1`` (:func:`password_secret_allowed`: local mode and the
  tests set it, the stack never does): Snowflake itself -- public or PrivateLink -- gets key-pair
  authentication.

Without a secret ARN a password may come from ``SNOWFLAKE_PASSWORD``, under the same rule as a
password secret: only a loopback stand-in in a ``RECOMMENDER_LOCAL_STANDIN=1`` process takes it. Nothing
here logs or formats a credential into a message.

With Snowflake's workload identity federation (``auth = "wif"``) there is no secret at all: the
connector signs in as the AWS role the code runs as (:func:`workload_identity`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

PASSWORD_ENV = "SNOWFLAKE_PASSWORD"  # noqa: S105 -- the variable's name, not a password
STANDIN_ENV = "RECOMMENDER_LOCAL_STANDIN"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class CredentialsError(RuntimeError):
    """Credentials could not be found or read."""


@dataclass(frozen=True)
class Credentials:
    """Connector keyword arguments for authentication; ``repr`` hides the values."""

    connect_args: dict[str, Any] = field(repr=False)
    kind: str

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r})"


def password_secret_allowed(host: str | None) -> bool:
    """Whether a password secret may sign in to ``host``: a loopback stand-in, with ``STANDIN_ENV=1`` set.

    A host alone proves nothing -- a PrivateLink deployment sets one too -- so the flag is explicit, and
    no stack-made environment carries it.
    """
    return os.environ.get(STANDIN_ENV) == "1" and host in LOOPBACK_HOSTS


def workload_identity() -> Credentials:
    """Sign in as this process's AWS role (``ALTER USER ... ADD WORKLOAD IDENTITY ... TYPE = AWS``).

    The connector presents a signed STS GetCallerIdentity request built from the environment's AWS
    credentials and region; nothing is stored or read from Secrets Manager.
    """
    return Credentials(
        {"authenticator": "WORKLOAD_IDENTITY", "workload_identity_provider": "AWS"}, kind="workload identity"
    )


def credentials_from_secret_string(secret: str, *, source: str, allow_password: bool = False) -> Credentials:
    """Interpret a secret's text; ``source`` names it in errors (never the text itself)."""
    text = secret.strip()
    if text.startswith("-----BEGIN"):
        return _key_pair(text, None, source=source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("private_key"), str):
        passphrase = doc.get("private_key_passphrase")
        return _key_pair(doc["private_key"], passphrase if isinstance(passphrase, str) else None, source=source)
    if isinstance(doc, dict) and isinstance(doc.get("password"), str) and doc["password"]:
        if not allow_password:
            raise CredentialsError(
                f"Secret {source} holds a password, which only a local stand-in accepts here: store the "
                "Snowflake user's RSA private key instead (key-pair authentication)."
            )
        return Credentials({"password": doc["password"]}, kind="password")
    raise CredentialsError(
        f"Secret {source} holds neither a PEM private key nor JSON with 'private_key' "
        "(or 'password' for stand-ins): store the Snowflake user's RSA private key in it."
    )


def _key_pair(pem: str, passphrase: str | None, *, source: str) -> Credentials:
    try:
        key = serialization.load_pem_private_key(
            pem.strip().encode(), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError):
        raise CredentialsError(
            f"Secret {source} has a private key that cannot be read (malformed PEM or wrong "
            "passphrase): store an unencrypted PKCS#8 PEM or add 'private_key_passphrase'."
        ) from None
    if not isinstance(key, RSAPrivateKey) or key.key_size < 2048:
        raise CredentialsError(
            f"Secret {source} must hold an RSA private key of at least 2048 bits, as Snowflake requires."
        )
    return Credentials({"authenticator": "SNOWFLAKE_JWT", "private_key": key}, kind="key-pair")


def fetch_credentials(
    secret_arn: str | None, *, region: str | None = None, allow_password: bool = False
) -> Credentials:
    """Credentials from the named Secrets Manager secret, else from ``SNOWFLAKE_PASSWORD``.

    A password -- from the secret or from the environment -- signs in only where ``allow_password`` says so
    (:func:`password_secret_allowed`: a loopback stand-in in a process started with ``STANDIN_ENV=1``).
    boto3 honours ``AWS_ENDPOINT_URL``, so a local moto server needs no special code.
    """
    if not secret_arn:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise CredentialsError(
                "No Snowflake credentials: set the snowflake_secret_arn hyperparameter "
                f"(or {PASSWORD_ENV} for a local stand-in)."
            )
        if not allow_password:
            raise CredentialsError(
                f"{PASSWORD_ENV} signs in only to a local stand-in (loopback, in a process started with "
                f"{STANDIN_ENV}=1): give Snowflake itself a key pair (a secret, or --private-key-file)."
            )
        return Credentials({"password": password}, kind="password")

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("secretsmanager", region_name=region or _region_of(secret_arn))
        response = client.get_secret_value(SecretId=secret_arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise CredentialsError(
            f"Cannot read secret {secret_arn} ({code}): check that it exists and that this "
            "program's role may call secretsmanager:GetSecretValue on it."
        ) from None
    except BotoCoreError as exc:
        raise CredentialsError(
            f"Cannot reach AWS Secrets Manager for secret {secret_arn} ({type(exc).__name__})."
        ) from None
    secret = response.get("SecretString")
    if not secret:
        raise CredentialsError(f"Secret {secret_arn} has no text value: store the PEM key as a string.")
    return credentials_from_secret_string(secret, source=secret_arn, allow_password=allow_password)


def _region_of(arn: str) -> str:
    return arn.split(":")[3]
