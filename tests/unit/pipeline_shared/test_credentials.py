import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from pipeline_shared.credentials import (
    PASSWORD_ENV,
    STANDIN_ENV,
    Credentials,
    CredentialsError,
    credentials_from_secret_string,
    fetch_credentials,
    password_secret_allowed,
)

SOURCE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:test"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(rsa_key):
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def encrypted_pem(rsa_key):
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    ).decode()


def public_numbers(key):
    return key.public_key().public_numbers()


def assert_key_pair(credentials, rsa_key):
    assert credentials.kind == "key-pair"
    assert credentials.connect_args["authenticator"] == "SNOWFLAKE_JWT"
    key = credentials.connect_args["private_key"]
    assert isinstance(key, RSAPrivateKey)
    assert public_numbers(key) == public_numbers(rsa_key)
    assert "password" not in credentials.connect_args


def test_raw_pem(pem, rsa_key):
    assert_key_pair(credentials_from_secret_string(pem, source=SOURCE), rsa_key)


def test_raw_pem_with_surrounding_whitespace(pem, rsa_key):
    assert_key_pair(credentials_from_secret_string(f"\n  {pem}\n\n", source=SOURCE), rsa_key)


def test_json_private_key(pem, rsa_key):
    secret = json.dumps({"private_key": pem})
    assert_key_pair(credentials_from_secret_string(secret, source=SOURCE), rsa_key)


def test_encrypted_pem_with_passphrase(encrypted_pem, rsa_key):
    secret = json.dumps({"private_key": encrypted_pem, "private_key_passphrase": "correct horse"})
    assert_key_pair(credentials_from_secret_string(secret, source=SOURCE), rsa_key)


def test_encrypted_pem_with_wrong_passphrase(encrypted_pem):
    secret = json.dumps({"private_key": encrypted_pem, "private_key_passphrase": "battery staple"})
    with pytest.raises(CredentialsError, match="cannot be read") as info:
        credentials_from_secret_string(secret, source=SOURCE)
    assert "battery staple" not in str(info.value)
    assert SOURCE in str(info.value)


def test_encrypted_pem_without_passphrase(encrypted_pem):
    with pytest.raises(CredentialsError, match="cannot be read"):
        credentials_from_secret_string(encrypted_pem, source=SOURCE)


def test_password_json_for_a_stand_in():
    credentials = credentials_from_secret_string(json.dumps({"password": "pw"}), source=SOURCE, allow_password=True)
    assert credentials.kind == "password"
    assert credentials.connect_args == {"password": "pw"}


def test_password_json_refused_for_snowflake_itself():
    with pytest.raises(CredentialsError, match="holds a password, which only a local stand-in accepts") as caught:
        credentials_from_secret_string(json.dumps({"password": "pw-value"}), source=SOURCE)
    assert "pw-value" not in str(caught.value)


def test_empty_password_rejected():
    with pytest.raises(CredentialsError, match="neither a PEM private key"):
        credentials_from_secret_string(json.dumps({"password": ""}), source=SOURCE)


@pytest.mark.parametrize(
    "secret",
    [
        "hunter2-super-secret",
        json.dumps({"user": "hunter2-super-secret"}),
        json.dumps(["hunter2-super-secret"]),
        json.dumps({"private_key": 12345, "note": "hunter2-super-secret"}),
    ],
)
def test_garbage_is_rejected_without_echoing(secret):
    with pytest.raises(CredentialsError, match="neither a PEM private key") as info:
        credentials_from_secret_string(secret, source=SOURCE)
    assert "hunter2" not in str(info.value)


def test_malformed_pem_is_rejected_without_echoing():
    secret = "-----BEGIN PRIVATE KEY-----\nhunter2supersecretAAAA\n-----END PRIVATE KEY-----"
    with pytest.raises(CredentialsError, match="cannot be read") as info:
        credentials_from_secret_string(secret, source=SOURCE)
    assert "hunter2" not in str(info.value)


def test_1024_bit_key_rejected():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 -- must be refused
    pem = small.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(CredentialsError, match="at least 2048 bits"):
        credentials_from_secret_string(pem, source=SOURCE)
    with pytest.raises(CredentialsError, match="at least 2048 bits"):
        credentials_from_secret_string(json.dumps({"private_key": pem}), source=SOURCE)


def test_non_rsa_key_rejected():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(CredentialsError, match="RSA private key"):
        credentials_from_secret_string(pem, source=SOURCE)


def test_repr_hides_values(pem):
    password = Credentials({"password": "s3cr3t-pw"}, kind="password")
    assert "s3cr3t-pw" not in repr(password)
    assert "s3cr3t-pw" not in str(password)
    assert repr(password) == "Credentials(kind='password')"
    key_pair = credentials_from_secret_string(pem, source=SOURCE)
    assert "PRIVATE" not in repr(key_pair)
    assert "private_key" not in repr(key_pair)


def test_fetch_without_arn_uses_password_env_only_for_a_stand_in(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "env-pw")
    with pytest.raises(CredentialsError, match="signs in only to a local stand-in") as refused:
        fetch_credentials(None)  # as for a password secret: Snowflake itself gets a key pair
    assert "env-pw" not in str(refused.value)
    credentials = fetch_credentials(None, allow_password=True)
    assert credentials.kind == "password"
    assert credentials.connect_args == {"password": "env-pw"}
    assert "env-pw" not in repr(credentials)


@pytest.mark.parametrize("value", [None, ""])
def test_fetch_without_arn_or_password(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
    else:
        monkeypatch.setenv(PASSWORD_ENV, value)
    with pytest.raises(CredentialsError, match="snowflake_secret_arn"):
        fetch_credentials(None)
    with pytest.raises(CredentialsError, match="snowflake_secret_arn"):
        fetch_credentials("")


@pytest.mark.parametrize(
    ("flag", "host", "allowed"),
    [
        ("1", "127.0.0.1", True),
        ("1", "localhost", True),
        (None, "127.0.0.1", False),  # a stand-in host alone is not enough: the process must say it runs stand-ins
        ("true", "127.0.0.1", False),
        ("1", "myorg-myaccount.privatelink.snowflakecomputing.com", False),  # PrivateLink sets a host too
        ("1", None, False),
    ],
)
def test_password_secrets_only_for_flagged_loopback_stand_ins(monkeypatch, flag, host, allowed):
    if flag is None:
        monkeypatch.delenv(STANDIN_ENV, raising=False)
    else:
        monkeypatch.setenv(STANDIN_ENV, flag)
    assert password_secret_allowed(host) is allowed
