"""The why_jtfs page of the scatviz app: `scatviz serve` serves it at `/why_jtfs`.

Thin entry point: the page is `scatviz.demos.apps.page_class("why_jtfs")`."""

from scatviz.demos.apps import serve_page

serve_page("why_jtfs")
