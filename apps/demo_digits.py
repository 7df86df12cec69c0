"""Teaching demo (logic in scatviz.demos.digits).

Part of the app: `scatviz serve` serves it at `/digits` (`apps/digits.py`). Served alone:
`panel serve apps/demo_digits.py`. A script with a progress bar:
`python apps/demo_digits.py --help`."""

import sys

from scatviz.demos.apps import main_digits, serve_page

if __name__ == "__main__":
    sys.exit(main_digits(sys.argv[1:]))
else:
    serve_page("digits")
