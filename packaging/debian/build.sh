#!/usr/bin/env bash
# Builds sanhu's Debian package with dpkg-deb alone (no packaging tool to install):
#
#   bash packaging/debian/build.sh                      # cargo build --release, then the package
#   SANHU_BIN=target/debug/sanhu bash packaging/debian/build.sh   # package a binary already built
#
# Writes ${CARGO_TARGET_DIR:-target}/debian/sanhu_<version>_<arch>.deb and prints its path. The package
# holds /usr/bin/sanhu, the systemd unit (/lib/systemd/system/sanhu.service), the default
# configuration (/etc/sanhu/sanhu.toml, a conffile: an upgrade keeps the operator's edits) and the docs;
# its maintainer scripts (postinst, prerm, postrm beside this file) make the `sanhu` user and
# /var/lib/sanhu, migrate, save the first API client's credential, and start the service where
# systemd runs. docs/OPERATIONS.md ("Installing the Debian package") says how to use it.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/debian

if [ -z "${SANHU_BIN:-}" ]; then
  cargo build --locked --release -p sanhu --bin sanhu
  SANHU_BIN="${CARGO_TARGET_DIR:-target}/release/sanhu"
fi
[ -x "$SANHU_BIN" ] || { echo "build.sh: $SANHU_BIN is not an executable" >&2; exit 1; }

version=$(awk -F'"' '/^\[workspace.package\]/{on=1} on && /^version *=/{print $2; exit}' Cargo.toml)
arch=$(dpkg --print-architecture)
# The newest glibc symbol version the binary needs, when binutils can tell (else Debian 12's).
glibc=2.36
if command -v objdump >/dev/null; then
  needed=$(objdump -T "$SANHU_BIN" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
  [ -n "$needed" ] && glibc=$needed
fi

out="${CARGO_TARGET_DIR:-target}/debian"
root="$out/sanhu_${version}_${arch}"
rm -rf "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/sanhu" "$root/usr/share/doc/sanhu"
install -m 0755 "$SANHU_BIN" "$root/usr/bin/sanhu"
# Debug information stays out of the package (the symbols stay, for backtraces and profiles).
if command -v strip >/dev/null; then strip --strip-debug "$root/usr/bin/sanhu"; fi
install -m 0644 "$here/sanhu.service" "$root/lib/systemd/system/sanhu.service"
install -m 0644 "$here/sanhu.toml" "$root/etc/sanhu/sanhu.toml"
install -m 0644 README.md docs/OPERATIONS.md docs/SECURITY.md "$root/usr/share/doc/sanhu/"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$root/DEBIAN/$script"; done
echo /etc/sanhu/sanhu.toml >"$root/DEBIAN/conffiles"
size_kib=$(du -sk "$root" --exclude=DEBIAN | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: sanhu
Version: $version
Architecture: $arch
Maintainer: sanhu maintainers <sanhu@localhost>
Installed-Size: $size_kib
Depends: libc6 (>= $glibc), libgcc-s1, passwd, util-linux
Section: net
Priority: optional
Homepage: https://localhost/sanhu
Description: customers, members, accounts and their money
 sanhu keeps the customers, members and accounts of businesses that run
 wallets and stored-value member cards, and their money, in a batched
 double-entry ledger on SQLite or PostgreSQL, behind a signed HTTP API and
 an operations console.
CONTROL
deb="$out/sanhu_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
rm -rf "$root"
echo "$deb"
