"""What every runtime of the pipeline shares: the training image, the Lambdas, the CDK app, local mode.

``settings`` (every deployment setting, declared once), ``identifiers`` (safe Snowflake
names), ``credentials`` (Snowflake secrets), ``resources`` (SageMaker names, tags and the prefix
rule), ``pipeline_objects`` (which SageMaker objects are the pipeline's, and listing them),
``sagemaker_kinds`` (how each kind is listed, deleted, stopped), ``training_options`` (the options
a training job takes, with types, ranges and defaults), ``catalogue`` (the external functions),
``logs`` (JSON log lines), ``aws_errors`` (botocore errors read one way) and ``bulk_load`` (stage,
PUT, COPY and swap in one transaction). Each Lambda asset and the image carry a copy of this package.
"""


class InputError(ValueError):
    """Input a caller must fix (a name, an option, a model reference); the message is one sentence.

    ``row``: which of several requests it concerns (a SQL row's number; None: not said).
    """

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.message, self.row = message, row


def first_line(exc: BaseException | str) -> str:
    """An exception's message (or a text) as one short line for a one-sentence error.

    A connector error's ``raw_msg`` is used when it has one.
    """
    lines = (getattr(exc, "raw_msg", None) or str(exc)).strip().splitlines()
    text = [line.strip() for line in lines if line.strip()]
    if len(text) > 1 and text[0].endswith(":"):  # "SQL compilation error:" says what kind; the next line says what
        text = [f"{text[0]} {text[1]}"]
    return (text[0] if text else type(exc).__name__).rstrip(".")[:300]
