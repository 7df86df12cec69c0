"""The reconstruction page of the scatviz app: `scatviz serve` serves it at `/reconstruction`.

Thin entry point: the page is `scatviz.demos.apps.page_class("reconstruction")`."""

from scatviz.demos.apps import serve_page

serve_page("reconstruction")
