"""Teaching demo (logic in scatviz.demos.digits).
Serve: `panel serve apps/demo_digits.py`; script with a progress bar:
`python apps/demo_digits.py --help`."""

import sys

from scatviz.demos.apps import digits_app, main_digits

if __name__ == "__main__":
    sys.exit(main_digits(sys.argv[1:]))
else:
    digits_app().servable(title="scatviz: digits")
