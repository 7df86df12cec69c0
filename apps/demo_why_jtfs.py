"""Teaching demo (logic in scatviz.demos.why_jtfs).

Part of the app: `scatviz serve` serves it at `/why_jtfs` (`apps/why_jtfs.py`). Served alone:
`panel serve apps/demo_why_jtfs.py`. A script with a progress bar:
`python apps/demo_why_jtfs.py --help`."""

import sys

from scatviz.demos.apps import main_why_jtfs, serve_page

if __name__ == "__main__":
    sys.exit(main_why_jtfs(sys.argv[1:]))
else:
    serve_page("why_jtfs")
