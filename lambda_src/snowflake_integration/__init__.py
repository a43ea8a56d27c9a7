"""The custom resource that sets up Snowflake's side of the pipeline (CDK Provider ``on_event``).

``handler`` is the thin entry point; ``properties`` validates ResourceProperties; ``statements``
builds the exact SQL; ``lifecycle`` runs it through an open cursor and updates the API role's
trust policy (``trust_policy``); ``connection`` opens the Snowflake session with the key-pair
from Secrets Manager (``credentials``, shared with the training image).
"""
