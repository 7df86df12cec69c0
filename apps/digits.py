"""The digits page of the scatviz app: `scatviz serve` serves it at `/digits`.

Thin entry point: the page is `scatviz.demos.apps.page_class("digits")`."""

from scatviz.demos.apps import serve_page

serve_page("digits")
