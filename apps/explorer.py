"""scatviz dataset explorer: ``panel serve apps/explorer.py --args --stores DIR`` (or
``SCATVIZ_STORES=DIR``; default: the working directory), also a page of ``scatviz serve``.

Thin entry point: everything lives in `scatviz.explorer`. ``/explorer?store=NAME`` opens the
feature store ``DIR/NAME`` (made by ``scatviz features FOLDER -o DIR/NAME.zarr --labels fsdd
--pool none``); only stores under DIR can be opened. Without ``?store=`` it opens the only
store there, or lists them.
"""

import panel as pn

from scatviz.explorer.app import Explorer

Explorer.from_query(pn.state.session_args).servable(title="scatviz explorer")
