"""Teaching demos: the logic behind ``apps/demo_*.py`` (reconstruction, spoken digits, why
JTFS), importable and testable without Panel."""
