"""Helpers more than one test module uses: Lambda environments and isolated imports."""
