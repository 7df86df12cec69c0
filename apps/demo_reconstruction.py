"""Teaching demo (logic in scatviz.demos.reconstruction).
Serve: `panel serve apps/demo_reconstruction.py`; script with a progress bar:
`python apps/demo_reconstruction.py --help`."""

import sys

from scatviz.demos.apps import main_reconstruction, reconstruction_app

if __name__ == "__main__":
    sys.exit(main_reconstruction(sys.argv[1:]))
else:
    reconstruction_app().servable(title="scatviz: reconstruction")
