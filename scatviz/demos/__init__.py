"""Teaching demos: why JTFS, reconstruction, spoken digits.

Computing (no web stack; importable and testable without Panel): `why_jtfs`,
`reconstruction`, `digits`, the stored first pictures (`store`, `precompute`) and the
background jobs (`jobs`). Their pages of the app (`ui_base`, `ui_why_jtfs`,
`ui_reconstruction`, `ui_digits`) are served by ``apps/<page>.py``; ``apps/demo_*.py`` also
run each demo in the terminal (`apps`)."""
