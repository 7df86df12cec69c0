"""Teaching demo (logic in scatviz.demos.why_jtfs).
Serve: `panel serve apps/demo_why_jtfs.py`; script with a progress bar:
`python apps/demo_why_jtfs.py --help`."""

import sys

from scatviz.demos.apps import main_why_jtfs, why_jtfs_app

if __name__ == "__main__":
    sys.exit(main_why_jtfs(sys.argv[1:]))
else:
    why_jtfs_app().servable(title="scatviz: why_jtfs")
