#!/usr/bin/env bash
# Prepare the default corpora once under data_lake/corpora/ (reused afterwards):
#  - jdk17/: the JDK 17 sources from Debian's openjdk-17-source package (src.zip, all modules);
#    the default `jdk` corpus is its java.base module.
# The CPython standard library needs nothing: it is read in place from the interpreter in use.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data_lake/corpora/jdk17
if [ -f "$dest/.complete" ]; then
  echo "corpora: JDK 17 sources ready in $dest ($(cat "$dest/DEBIAN_VERSION" 2>/dev/null || echo 'version not recorded'))"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$(ls /var/cache/graphmer/openjdk-17-source_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  (cd "$tmp" && { apt-get download openjdk-17-source >/dev/null 2>&1 || \
      { apt-get update -qq >/dev/null 2>&1 && apt-get download openjdk-17-source >/dev/null 2>&1; }; }) || true
  deb=$(ls "$tmp"/openjdk-17-source_*.deb 2>/dev/null | head -1 || true)
fi
if [ -z "$deb" ]; then
  echo "corpora: WARNING: could not download openjdk-17-source (apt-get download failed);" >&2
  echo "corpora: the demo goes on with the Python standard library alone." >&2
  exit 0
fi
dpkg-deb -x "$deb" "$tmp/pkg"
src=$(find "$tmp/pkg" -name src.zip | head -1)
rm -rf "$dest.partial" && mkdir -p "$dest.partial"
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$src" "$dest.partial"
# Debian's archive keeps only its current build, so the version cannot be pinned: it is recorded
# beside the sources (figures measured on this corpus name it; the KG manifest fingerprints it).
dpkg-deb -f "$deb" Version > "$dest.partial/DEBIAN_VERSION"
touch "$dest.partial/.complete"
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "corpora: JDK 17 sources $(cat "$dest/DEBIAN_VERSION") extracted to $dest ($(find "$dest" -name '*.java' | wc -l) .java files)"
