"""Local mode: the whole pipeline on loopback stand-ins (fakesnow, moto, local SageMaker)."""
