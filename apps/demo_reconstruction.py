"""Teaching demo (logic in scatviz.demos.reconstruction).

Part of the app: `scatviz serve` serves it at `/reconstruction` (`apps/reconstruction.py`).
Served alone:
`panel serve apps/demo_reconstruction.py`. A script with a progress bar:
`python apps/demo_reconstruction.py --help`."""

import sys

from scatviz.demos.apps import main_reconstruction, serve_page

if __name__ == "__main__":
    sys.exit(main_reconstruction(sys.argv[1:]))
else:
    serve_page("reconstruction")
