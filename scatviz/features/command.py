"""``scatviz features``: the command line of the feature paths.

    scatviz features FOLDER -o features.zarr [--scheduler tcp://host:8786] [--labels fsdd]
    scatviz features FOLDER -o features.npz          # one process, one .npz (small sets)

A ``.zarr`` output (or any name not ending in ``.npz``) runs on Dask
(`scatviz.features.extraction.extract`); ``.npz`` runs in this process
(`scatviz.features.single.extract_features`).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "cmd_features"]


def add_arguments(p: argparse.ArgumentParser, transform_args, designs, default_designs: str,
                  transforms) -> None:
    """The options of ``scatviz features`` on the subparser ``p`` (``transform_args``: the
    CLI's shared J/Q/T/J_fr/Q_fr/F options)."""
    p.add_argument("folder", metavar="FOLDER", help="folder of audio files")
    p.add_argument("-o", "--output", default="features.zarr",
                   help="output: a .zarr store (Dask, sharded, resumable; default "
                        "features.zarr) or a .npz file (one process)")
    p.add_argument("--transform", choices=tuple(transforms), default="scattering",
                   help="Scattering1D or TimeFrequencyScattering (default scattering)")
    transform_args(p)
    p.add_argument("--N", type=int, default=8192,
                   help="samples per transform (default 8192): shorter files are zero-padded "
                        "to N; longer ones are transformed whole, block by block, in "
                        "bounded memory (pooled over the whole file; unpooled: the centre "
                        "frames, and every frame in the store's long/ arrays)")
    p.add_argument("--design", default=None, choices=designs,
                   help="filter bank design (default: each transform's own, "
                        + default_designs + ")")
    p.add_argument("--pool", choices=("mean", "none"), default="mean",
                   help="mean: average over time, features (file, channel); none: keep "
                        "(file, channel, time)")
    p.add_argument("--log", action="store_true", help="store log1p of the coefficients")
    p.add_argument("--pattern", default="**/*",
                   help="glob of files under FOLDER (default **/*: all, recursively)")
    p.add_argument("--labels", default=None,
                   help=".zarr: labels parsed from file names, a regular expression with "
                        "named groups or a preset ('fsdd': digit, speaker, index)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help=".zarr: run on the Dask scheduler at ADDRESS (tcp://host:8786) "
                        "instead of a local cluster")
    p.add_argument("--workers", type=int, default=None,
                   help=".zarr: local cluster worker processes (default: one per core)")
    p.add_argument("--memory-limit", dest="memory_limit", default="auto",
                   help=".zarr: memory limit per local worker, e.g. 4GiB (default auto: the "
                        "machine's memory shared evenly)")
    p.add_argument("--files-per-shard", dest="files_per_shard", type=int, default=None,
                   help=".zarr: files per shard (default: sized from the file headers and "
                        "the workers' memory limit)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=32,
                   help=".npz: files per batch, and per checkpoint (default 32)")
    p.add_argument("--overwrite", action="store_true",
                   help="start again even if OUTPUT exists with another configuration")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> int:
    """Run ``scatviz features``; returns the exit status (2 on a bad input)."""
    from scatviz.features.single import extract_features

    params = dict(J=args.J, Q=args.Q, N=args.N, T=args.T, J_fr=args.J_fr, Q_fr=args.Q_fr,
                  F=args.F, design=args.design, pool=args.pool, log=args.log)
    try:
        if str(args.output).endswith(".npz"):
            res = extract_features(args.folder, args.output, args.transform,
                                   batch_size=args.batch_size, pattern=args.pattern,
                                   progress=not args.quiet, overwrite=args.overwrite,
                                   **params)
            print(f"wrote {res['output']}: {res['total']} files ({res['skipped']} already "
                  f"done, {len(res['failed'])} unreadable)")
            return 0
        from scatviz.features.extraction import extract

        ds = extract(args.folder, args.output, args.transform, scheduler=args.scheduler,
                     n_workers=args.workers, memory_limit=_memory(args.memory_limit),
                     pattern=args.pattern, labels=args.labels,
                     files_per_shard=args.files_per_shard, overwrite=args.overwrite,
                     progress=not args.quiet, **params)
    except (ValueError, TypeError) as exc:
        print(f"scatviz features: {exc}", file=sys.stderr)
        return 2
    failed = ds.attrs["failed_dict"]
    print(f"wrote {args.output}: {int(ds.ok.sum())} of {ds.sizes['file']} files, "
          f"coefficients {tuple(ds.coefficients.shape)} ({ds.attrs['n_shards']} shards), "
          f"{len(failed)} unreadable")
    for path, reason in list(failed.items())[:20]:
        print(f"  unreadable: {path}: {reason}", file=sys.stderr)
    return 0


def _memory(text):
    return int(text) if str(text).isdigit() else text
