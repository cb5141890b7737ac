#!/bin/sh
# seal-object.sh OUTPUT.o KEEP ARCHIVE [LIBRARY.a...]
#
# Makes one relocatable object of ARCHIVE (every member) and what it needs from the static
# LIBRARY archives, then turns every symbol it defines local except those matching the glob
# patterns in KEEP (comma-separated). The result can be linked next to a library that defines
# the same symbols (OpenSSL 3 inside, BoringSSL outside) without either binding to the other.
# Used by the -Dtls=boringssl build for the ldns codec and the pgsql/mysql tables.
#
# ld -r resolves the references between the inputs inside the object; what stays undefined is
# what the final link provides (libc, libstdc++, fmt, libpetrel). -d allocates common symbols
# (libcrypto's OPENSSL_ia32cap_P), which objcopy could not make local otherwise.
# --force-group-allocation dissolves COMDAT groups (inline functions, templates): once their
# symbols are local, a group the final link dropped as a duplicate would leave the object's
# references to it dangling ("defined in discarded section"), so the object keeps its copies.
set -eu
out=$1
keep=$2
archive=$3
shift 3
ld -r -d --force-group-allocation -o "$out.bundle" --whole-archive "$archive" --no-whole-archive "$@"
set --
old_ifs=$IFS
IFS=,
for pattern in $keep; do set -- "$@" "--keep-global-symbol=$pattern"; done
IFS=$old_ifs
objcopy --wildcard "$@" "$out.bundle" "$out"
rm -f "$out.bundle"
