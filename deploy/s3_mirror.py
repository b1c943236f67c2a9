#!/usr/bin/env python3
"""Mirror Wharf's S3 bucket (package files and published indexes) for backups and restores, with the `minio`
client Wharf already depends on (run it with Wharf's Python, e.g. in the Wharf image). Like `mc mirror`: copies
objects missing at the destination or of a different size, never touches identical ones, and with --remove
deletes destination objects the source no longer has.

The source bucket is Wharf's own, from the variables the services read: WHARF_S3_ENDPOINT, WHARF_S3_ACCESS_KEY,
WHARF_S3_SECRET_KEY, WHARF_S3_BUCKET, WHARF_S3_SECURE, WHARF_S3_REGION. The other side is one of

  --to-dir DIR        a directory (one file per object, same key path)             backup to disk
  --from-dir DIR      a directory, copied INTO Wharf's bucket (created if missing) restore from disk
  (neither)           another bucket: MIRROR_S3_ENDPOINT, MIRROR_S3_ACCESS_KEY, MIRROR_S3_SECRET_KEY,
                      MIRROR_S3_BUCKET, MIRROR_S3_SECURE, MIRROR_S3_REGION           bucket to bucket
                      (--reverse copies from the MIRROR_ bucket into Wharf's)

Credentials come from the environment only (never the command line, which `ps` shows). Exit 0 on success,
1 when an object failed (the others are still copied), 2 on bad usage.

    python3 deploy/s3_mirror.py --to-dir /backups/2026-11-21/blobs
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from minio import Minio
from minio.error import S3Error


def _bool(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


class Bucket:
    def __init__(self, prefix: str, env=os.environ):
        missing = [f"{prefix}_{k}" for k in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")
                   if not env.get(f"{prefix}_{k}")]
        if missing:
            raise SystemExit(f"s3_mirror: set {', '.join(missing)}")
        self.name = env[f"{prefix}_BUCKET"]
        self.label = f"s3://{env[f'{prefix}_ENDPOINT']}/{self.name}"
        self.client = Minio(env[f"{prefix}_ENDPOINT"], access_key=env[f"{prefix}_ACCESS_KEY"],
                            secret_key=env[f"{prefix}_SECRET_KEY"], secure=_bool(env.get(f"{prefix}_SECURE")),
                            region=env.get(f"{prefix}_REGION") or "us-east-1")

    def listing(self) -> dict[str, int]:
        if not self.client.bucket_exists(self.name):
            return {}
        return {o.object_name: o.size for o in self.client.list_objects(self.name, recursive=True)}

    def ensure(self) -> None:
        if not self.client.bucket_exists(self.name):
            self.client.make_bucket(self.name)

    def read_to(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        self.client.fget_object(self.name, key, str(tmp))
        tmp.replace(path)

    def write_from(self, key: str, path: Path) -> None:
        self.client.fput_object(self.name, key, str(path))

    def copy_from(self, src: "Bucket", key: str, size: int) -> None:
        resp = src.client.get_object(src.name, key)
        try:
            self.client.put_object(self.name, key, resp, size)
        finally:
            resp.close()
            resp.release_conn()

    def delete(self, key: str) -> None:
        self.client.remove_object(self.name, key)


class Directory:
    def __init__(self, root: str):
        self.root = Path(root)
        self.label = str(self.root)

    def listing(self) -> dict[str, int]:
        if not self.root.is_dir():
            return {}
        return {p.relative_to(self.root).as_posix(): p.stat().st_size
                for p in self.root.rglob("*") if p.is_file() and not p.name.endswith(".part")}

    def path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise ValueError(f"object key {key!r} escapes {self.root}")
        return p

    def delete(self, key: str) -> None:
        self.path(key).unlink()


def mirror(src, dst, remove: bool = False, out=sys.stdout) -> dict[str, int]:
    have, want = dst.listing(), src.listing()
    counts = {"copied": 0, "unchanged": 0, "removed": 0, "failed": 0}
    if isinstance(dst, Bucket):
        dst.ensure()
    for key, size in sorted(want.items()):
        if have.get(key) == size:
            counts["unchanged"] += 1
            continue
        try:
            if isinstance(src, Bucket) and isinstance(dst, Directory):
                src.read_to(key, dst.path(key))
            elif isinstance(src, Directory) and isinstance(dst, Bucket):
                dst.write_from(key, src.path(key))
            else:
                dst.copy_from(src, key, size)
            counts["copied"] += 1
        except (S3Error, OSError, ValueError) as exc:
            counts["failed"] += 1
            print(f"FAILED {key}: {exc}", file=sys.stderr)
    if remove:
        for key in sorted(set(have) - set(want)):
            dst.delete(key)
            counts["removed"] += 1
    print(f"{src.label} -> {dst.label}: " + ", ".join(f"{v} {k}" for k, v in counts.items()), file=out)
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    side = p.add_mutually_exclusive_group()
    side.add_argument("--to-dir", help="copy Wharf's bucket into this directory")
    side.add_argument("--from-dir", help="copy this directory into Wharf's bucket")
    side.add_argument("--reverse", action="store_true", help="copy the MIRROR_ bucket into Wharf's")
    p.add_argument("--remove", action="store_true", help="delete destination objects the source does not have")
    args = p.parse_args(argv)
    wharf = Bucket("WHARF_S3")
    if args.to_dir:
        src, dst = wharf, Directory(args.to_dir)
    elif args.from_dir:
        if not Path(args.from_dir).is_dir():
            p.error(f"{args.from_dir} is not a directory")
        src, dst = Directory(args.from_dir), wharf
    else:
        other = Bucket("MIRROR_S3")
        src, dst = (other, wharf) if args.reverse else (wharf, other)
    return 1 if mirror(src, dst, remove=args.remove)["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
