"""The idle-endpoint sweep: takes down this pipeline's endpoints nobody invoked for ``endpointIdleHours``."""
