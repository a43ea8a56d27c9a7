from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lambda_identifier_rules_are_the_images_own_module():
    """One definition of a safe table name: the Lambda package links to the image's module."""
    link = ROOT / "lambda_src" / "external_functions" / "identifiers.py"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "training_image" / "recommender" / "identifiers.py").resolve()
