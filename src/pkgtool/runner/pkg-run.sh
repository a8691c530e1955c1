#!/bin/sh
# pkg-run.sh - run a command inside a pkgtool environment archive, on nodes without Python.
#
# usage: sh pkg-run.sh [--cache-dir DIR] ARCHIVE COMMAND [ARG...]
#
# The POSIX sh twin of the Python module pkgtool.runner: both follow one protocol, share one
# cache and exclude each other (DESIGN.md, "Runner protocol"; details in pkgtool/runner/*.py).
#
# 1. Environment id: first 16 hex digits of the SHA-256 of "<size in bytes>\n", the first and
#    the last min(size, 65536) bytes of ARCHIVE (at most 128 KiB read, however big it is).
# 2. Cache root: --cache-dir, else $PKG_CACHE_DIR, else /tmp/pkgtool-$(id -u) when /tmp is a
#    writable directory, else $TMPDIR/pkgtool-$(id -u) (TMPDIR last: batch systems give each
#    task its own TMPDIR, which would unpack again per task); created 0700; refused if a symlink, not a directory, owned by another uid, or writable by
#    group or others.
# 3. Ready prefix <root>/<id>/ holds the marker .pkgtool-ready, written last. Warm path: the
#    marker exists, no lock. Cold path: flock -w $PKG_LOCK_TIMEOUT (seconds, default 600) on
#    <root>/<id>.lock (without flock(1): a lock directory <root>/<id>.lock.d holding
#    "host pid"; stale when that pid is gone on this host); check the marker again; remove any
#    leftover prefix; list the archive and refuse unsafe members; extract; check the node
#    against .pkgtool/manifest.json; run bin/conda-unpack; write the marker.
# 4. Activate: <prefix>/bin first on PATH, CONDA_PREFIX, CONDA_DEFAULT_ENV, no PYTHONPATH or
#    PYTHONHOME, then source <prefix>/etc/conda/activate.d/*.sh in byte order of their names.
# 5. exec the command.
#
# Exit status: the command's; 125 the runner failed; 126 command not executable; 127 command
# not found. Errors are one "pkg-run: error: ..." and one "pkg-run: hint: ..." line on stderr.
#
# Needs: tar (with gzip, bzip2 or xz for compressed archives), od, head -c, tail -c, wc,
# sha256sum or shasum or openssl, sed, grep, ls, mkdir, mv, rm, chmod, id, uname, sleep;
# flock(1), getconf and sync when present. Every variable of this script starts with _pr_.

_pr_marker=.pkgtool-ready
_pr_sample=65536
_pr_archive_hint="give the path of an env.tar.gz made by pkg create"
_pr_unsafe_hint="the archive was not made by pkg create or was altered; rebuild it with pkg create"
_pr_cleanup_prefix=
_pr_cleanup_work=
_pr_lock_dir=

_pr_die() {
    printf 'pkg-run: error: %s\n' "$2" >&2
    if [ -n "${3-}" ]; then printf 'pkg-run: hint: %s\n' "$3" >&2; fi
    exit "$1"
}

_pr_usage() {
    _pr_die 125 "$1" "usage: pkg-run.sh [--cache-dir DIR] ARCHIVE COMMAND [ARG...]"
}

_pr_remove_tree() {
    if [ -L "$1" ]; then
        rm -f "$1"
    elif [ -e "$1" ]; then
        rm -rf "$1" 2>/dev/null || { chmod -R u+rwx "$1" && rm -rf "$1"; }
    fi
}

_pr_cleanup() {
    if [ -n "$_pr_cleanup_prefix" ]; then _pr_remove_tree "$_pr_cleanup_prefix"; fi
    if [ -n "$_pr_cleanup_work" ]; then rm -rf "$_pr_cleanup_work"; fi
    if [ -n "$_pr_lock_dir" ]; then rm -rf "$_pr_lock_dir"; fi
}

# ---------------------------------------------------------------- 1. environment id

_pr_pick_hash() {
    if command -v sha256sum >/dev/null 2>&1; then
        _pr_hash=sha256sum
    elif command -v shasum >/dev/null 2>&1; then
        _pr_hash="shasum -a 256"
    elif command -v openssl >/dev/null 2>&1; then
        _pr_hash="openssl dgst -sha256"
    else
        _pr_die 125 "no SHA-256 tool on this node (sha256sum, shasum or openssl)" \
            "install coreutils, or run python -m pkgtool.runner instead"
    fi
}

_pr_environment_id() {
    if [ ! -f "$1" ] || [ ! -r "$1" ]; then
        _pr_die 125 "cannot read archive $1: not a readable regular file" "$_pr_archive_hint"
    fi
    _pr_pick_hash
    _pr_size=$(wc -c <"$1") || _pr_die 125 "cannot read archive $1" "$_pr_archive_hint"
    _pr_size=${_pr_size##* }
    _pr_sum=$({
        printf '%s\n' "$_pr_size"
        head -c "$_pr_sample" -- "$1"
        tail -c "$_pr_sample" -- "$1"
    } | $_pr_hash) || _pr_die 125 "cannot read archive $1" "$_pr_archive_hint"
    case $_pr_sum in
    *'= '*) _pr_sum=${_pr_sum##*= } ;;
    *) _pr_sum=${_pr_sum%% *} ;;
    esac
    case $_pr_sum in
    *[!0-9a-f]* | '') _pr_die 125 "cannot hash $1 with $_pr_hash" ;;
    ????????????????*) ;;
    *) _pr_die 125 "cannot hash $1 with $_pr_hash" ;;
    esac
    _pr_id=${_pr_sum%"${_pr_sum#????????????????}"}
}

# ---------------------------------------------------------------- 2. cache root

_pr_ls_fields() {
    set -f
    # shellcheck disable=SC2046 # split on purpose: mode, links, uid, ...
    set -- $(ls -ldn -- "$1")
    set +f
    _pr_mode=$1
    _pr_uid=$3
}

_pr_cache_root() {
    if [ -n "$_pr_cache_dir" ]; then
        _pr_root=$_pr_cache_dir
    elif [ -n "${PKG_CACHE_DIR-}" ]; then
        _pr_root=$PKG_CACHE_DIR
    elif [ -d /tmp ] && [ -w /tmp ] && [ -x /tmp ]; then
        _pr_root=/tmp/pkgtool-$(id -u)
    elif [ -n "${TMPDIR-}" ]; then
        _pr_root=$TMPDIR/pkgtool-$(id -u)
    else
        _pr_die 125 "no cache directory: /tmp is not writable and TMPDIR is not set" \
            "choose a node-local directory with --cache-dir or PKG_CACHE_DIR"
    fi
    case $_pr_root in
    /*) ;;
    *) _pr_root=$(pwd -P)/$_pr_root ;;
    esac
    while :; do
        case $_pr_root in
        / | *[!/]) break ;;
        *) _pr_root=${_pr_root%/} ;;
        esac
    done
    _pr_hint="choose another directory with --cache-dir or PKG_CACHE_DIR"
    if [ ! -e "$_pr_root" ] && [ ! -L "$_pr_root" ]; then
        mkdir -p -- "${_pr_root%/*}/" 2>/dev/null
        mkdir -m 700 -- "$_pr_root" 2>/dev/null || [ -d "$_pr_root" ] ||
            _pr_die 125 "cannot create cache directory $_pr_root" "$_pr_hint"
    fi
    if [ -L "$_pr_root" ]; then
        _pr_die 125 "cache directory $_pr_root is a symlink" "$_pr_hint"
    fi
    if [ ! -d "$_pr_root" ]; then
        _pr_die 125 "cache directory $_pr_root is not a directory" "$_pr_hint"
    fi
    _pr_ls_fields "$_pr_root"
    _pr_me=$(id -u)
    if [ "$_pr_uid" != "$_pr_me" ]; then
        _pr_die 125 "cache directory $_pr_root is owned by uid $_pr_uid, not by you (uid $_pr_me)" \
            "$_pr_hint"
    fi
    case $_pr_mode in
    ?????w* | ????????w*)
        _pr_die 125 "cache directory $_pr_root is writable by others (mode $_pr_mode)" "$_pr_hint"
        ;;
    esac
}

# ---------------------------------------------------------------- 3. lock

_pr_lock_timeout() {
    _pr_timeout=${PKG_LOCK_TIMEOUT:-600}
    case $_pr_timeout in
    . | *[!0-9.]* | *.*.*)
        _pr_die 125 "PKG_LOCK_TIMEOUT='$_pr_timeout' is not a number of seconds" \
            "set it to a number such as 600, or unset it"
        ;;
    esac
}

_pr_timed_out() {
    _pr_die 125 "timed out after $_pr_timeout s waiting for lock $1 held by another run" \
        "another run is unpacking this archive: retry later or raise PKG_LOCK_TIMEOUT (seconds)"
}

_pr_lock() {
    _pr_lock_file=$_pr_root/$_pr_id.lock
    if command -v flock >/dev/null 2>&1; then
        command exec 9>>"$_pr_lock_file" ||
            _pr_die 125 "cannot open lock file $_pr_lock_file" "check that $_pr_root is writable"
        flock -w "$_pr_timeout" 9 || _pr_timed_out "$_pr_lock_file"
    else
        _pr_lock_directory "$_pr_lock_file.d"
    fi
}

# Fallback without flock(1): mkdir is atomic. The holder writes "host pid" into owner; a lock
# whose pid no longer runs on this host, or that has no owner for 3 polls, is stale.
_pr_lock_directory() {
    _pr_host=$(uname -n)
    _pr_limit=${_pr_timeout%%.*}
    case $_pr_timeout in *.*[1-9]*) _pr_limit=$((${_pr_limit:-0} + 1)) ;; esac
    _pr_waited=0
    _pr_orphan=0
    while ! mkdir "$1" 2>/dev/null; do
        _pr_holder=$(cat "$1/owner" 2>/dev/null) || _pr_holder=
        if [ -n "$_pr_holder" ]; then
            _pr_orphan=0
            if [ "${_pr_holder% *}" = "$_pr_host" ] &&
                ! kill -0 "${_pr_holder##* }" 2>/dev/null; then
                rm -rf "$1"
                continue
            fi
        else
            _pr_orphan=$((_pr_orphan + 1))
            if [ "$_pr_orphan" -ge 3 ]; then
                rm -rf "$1"
                continue
            fi
        fi
        if [ "$_pr_waited" -ge "${_pr_limit:-0}" ]; then _pr_timed_out "$1"; fi
        sleep 1
        _pr_waited=$((_pr_waited + 1))
    done
    _pr_lock_dir=$1
    printf '%s %s\n' "$_pr_host" "$$" >"$1/owner.tmp" && mv -f "$1/owner.tmp" "$1/owner"
}

_pr_unlock() {
    exec 9>&-
    if [ -n "$_pr_lock_dir" ]; then
        rm -rf "$_pr_lock_dir"
        _pr_lock_dir=
    fi
}

# ---------------------------------------------------------------- 3. member checks

# GNU tar and bsdtar list names and hard link targets as stored only with -P (never used to
# extract); GNU tar takes "host:file" for a remote archive unless --force-local.
_pr_tar_flavour() {
    case $(tar --version 2>/dev/null) in
    *GNU*) _pr_p=-P _pr_local=--force-local ;;
    *bsdtar*) _pr_p=-P _pr_local='' ;;
    *) _pr_p='' _pr_local='' ;;
    esac
}

_pr_compression() {
    _pr_magic=$(head -c 6 -- "$_pr_archive" | od -A n -t x1) ||
        _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
    # shellcheck disable=SC2086 # split on purpose: od's spacing varies between systems
    _pr_magic=$(printf ' %s' $_pr_magic)
    case $_pr_magic in
    ' 1f 8b'*) _pr_z=-z ;;
    ' 42 5a 68'*) _pr_z=-j ;;
    ' fd 37 7a 58 5a 00'*) _pr_z=-J ;;
    *) _pr_z= ;;
    esac
}

_pr_unsafe() {
    _pr_die 125 "unsafe member '$1' in $_pr_archive: $2" "$_pr_unsafe_hint"
}

# Print the normalised form of each line of $1: no '.' or empty components, no trailing '/'.
_pr_normalise() {
    sed -e 's|//*|/|g' \
        -e ':a' -e 's|^\./||' -e 'ta' \
        -e ':b' -e 's|/\./|/|' -e 'tb' \
        -e 's|/\.$||' -e 's|\(.\)/$|\1|' "$1"
}

_pr_line() {
    sed -n "$1p" "$2"
}

# _pr_check_link NAME TARGET: does the symbolic link NAME (normalised) -> TARGET stay inside?
_pr_check_link() {
    _pr_reason=
    case $2 in
    /*) _pr_reason="link target '$2' is absolute" && return 1 ;;
    esac
    _pr_depth=-1
    _pr_ifs=$IFS
    IFS=/
    set -f
    for _pr_c in $1; do
        case $_pr_c in '' | .) ;; *) _pr_depth=$((_pr_depth + 1)) ;; esac
    done
    _pr_ups=0
    _pr_named=
    for _pr_c in $2; do
        case $_pr_c in
        '' | .) ;;
        ..)
            if [ -n "$_pr_named" ]; then
                _pr_reason="link target '$2' has '..' after a name"
                break
            fi
            _pr_ups=$((_pr_ups + 1))
            ;;
        *) _pr_named=1 ;;
        esac
    done
    set +f
    IFS=$_pr_ifs
    if [ -z "$_pr_reason" ] && [ "$_pr_ups" -gt "$_pr_depth" ]; then
        _pr_reason="link target '$2' escapes the prefix"
    fi
    [ -z "$_pr_reason" ]
}

_pr_check_members() {
    _pr_w=$_pr_work
    if ! tar -t $_pr_p $_pr_local $_pr_z -f "$_pr_archive" >"$_pr_w/names" 2>"$_pr_w/err" 9>&- ||
        ! tar -t -v $_pr_p $_pr_local $_pr_z -f "$_pr_archive" >"$_pr_w/long" 2>>"$_pr_w/err" 9>&-
    then
        _pr_die 125 "cannot list archive $_pr_archive: $(head -n 1 "$_pr_w/err")" \
            "check that the archive is complete (same size as where it was built)"
    fi
    if [ $(($(wc -l <"$_pr_w/names"))) -ne $(($(wc -l <"$_pr_w/long"))) ]; then
        _pr_die 125 "cannot list archive $_pr_archive: tar -t and tar -tv disagree" \
            "$_pr_unsafe_hint"
    fi
    _pr_bad=$(grep -n -E -e '^/' -e '(^|/)\.\.(/|$)' -e '^(\.?/+)*\.pkgtool-ready(/|$)' \
        "$_pr_w/names" | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_name=${_pr_bad#*:}
        case $_pr_name in
        /*) _pr_unsafe "$_pr_name" "absolute path" ;;
        .. | ../* | */.. | */../*) _pr_unsafe "$_pr_name" "'..' component" ;;
        *) _pr_unsafe "$_pr_name" "reserved name $_pr_marker" ;;
        esac
    fi
    _pr_bad=$(grep -n -v -E '^[-dlh]' "$_pr_w/long" | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_unsafe "$(_pr_line "${_pr_bad%%:*}" "$_pr_w/names")" \
            "device, fifo or other special file"
    fi
    _pr_normalise "$_pr_w/names" >"$_pr_w/paths"
    grep -n -E '^[lh]' "$_pr_w/long" >"$_pr_w/links"
    : >"$_pr_w/symlinks"
    : >"$_pr_w/hardlinks"
    : >"$_pr_w/hardlink-names"
    if [ -s "$_pr_w/links" ]; then
        _pr_check_links
    fi
    _pr_check_under_symlinks
}

_pr_check_links() {
    sed -e 's/:.*/p/' "$_pr_w/links" >"$_pr_w/select"
    sed -n -f "$_pr_w/select" "$_pr_w/names" >"$_pr_w/link-names"
    sed -n -f "$_pr_w/select" "$_pr_w/paths" >"$_pr_w/link-paths"
    while IFS= read -r _pr_name <&3 && IFS= read -r _pr_path <&4 && IFS= read -r _pr_long <&5; do
        _pr_long=${_pr_long#*:}
        case $_pr_long in
        l*) _pr_target=${_pr_long#*" $_pr_name -> "} ;;
        *) _pr_target=${_pr_long#*" $_pr_name link to "} ;;
        esac
        if [ "$_pr_target" = "$_pr_long" ]; then
            _pr_die 125 "cannot parse the listing of $_pr_archive at '$_pr_name'" "$_pr_unsafe_hint"
        fi
        _pr_reason=
        case $_pr_long in
        l*)
            _pr_check_link "$_pr_path" "$_pr_target" || _pr_unsafe "$_pr_name" "$_pr_reason"
            printf '%s\n' "$_pr_path" >>"$_pr_w/symlinks"
            ;;
        *)
            case $_pr_target in
            /* | .. | ../* | */.. | */../*) _pr_unsafe "$_pr_name" "hard link to '$_pr_target'" ;;
            esac
            printf '%s\n' "$_pr_target" >>"$_pr_w/hardlinks"
            printf '%s\n' "$_pr_name" >>"$_pr_w/hardlink-names"
            ;;
        esac
    done 3<"$_pr_w/link-names" 4<"$_pr_w/link-paths" 5<"$_pr_w/links"
}

# Nothing is written through a symbolic link member, and no hard link points at one.
_pr_check_under_symlinks() {
    [ -s "$_pr_w/symlinks" ] || return 0
    sed -e 's/[[\.*^$]/\\&/g' -e 's/^/^/' -e 's|$|/|' "$_pr_w/symlinks" >"$_pr_w/patterns"
    _pr_bad=$(grep -n -f "$_pr_w/patterns" "$_pr_w/paths" | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_unsafe "$(_pr_line "${_pr_bad%%:*}" "$_pr_w/names")" "lies under a symbolic link"
    fi
    _pr_normalise "$_pr_w/hardlinks" >"$_pr_w/hardlink-paths"
    _pr_bad=$(grep -n -f "$_pr_w/patterns" "$_pr_w/hardlink-paths" | head -n 1)
    if [ -z "$_pr_bad" ]; then
        _pr_bad=$(grep -n -x -F -f "$_pr_w/symlinks" "$_pr_w/hardlink-paths" | head -n 1)
    fi
    if [ -n "$_pr_bad" ]; then
        _pr_unsafe "$(_pr_line "${_pr_bad%%:*}" "$_pr_w/hardlink-names")" \
            "hard link to or through a symbolic link"
    fi
}

# ---------------------------------------------------------------- 3. node, conda-unpack, marker

_pr_manifest_value() {
    sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\\{0,1\\}\$/\\1/p" "$2" | head -n 1
}

_pr_check_node() {
    _pr_manifest=$_pr_prefix/.pkgtool/manifest.json
    [ -f "$_pr_manifest" ] || return 0
    _pr_platform=$(_pr_manifest_value platform "$_pr_manifest")
    _pr_glibc=$(_pr_manifest_value glibc "$_pr_manifest")
    _pr_sys=$(uname -s)
    _pr_machine=$(uname -m)
    case $_pr_platform in
    linux-*) _pr_want=Linux ;;
    osx-*) _pr_want=Darwin ;;
    win-*) _pr_want=Windows ;;
    *) _pr_want=$_pr_sys ;;
    esac
    case $_pr_platform in
    linux-64) _pr_machines=" x86_64 " ;;
    linux-32) _pr_machines=" i386 i486 i586 i686 " ;;
    linux-aarch64) _pr_machines=" aarch64 arm64 " ;;
    linux-armv7l) _pr_machines=" armv7l " ;;
    linux-ppc64le) _pr_machines=" ppc64le " ;;
    linux-s390x) _pr_machines=" s390x " ;;
    linux-riscv64) _pr_machines=" riscv64 " ;;
    osx-64) _pr_machines=" x86_64 arm64 " ;;
    osx-arm64) _pr_machines=" arm64 " ;;
    *) _pr_machines=" $_pr_machine " ;;
    esac
    case "$_pr_want $_pr_machines" in
    "$_pr_sys "*" $_pr_machine "*) ;;
    *)
        _pr_die 125 \
            "$_pr_archive is built for $_pr_platform, but this node is $_pr_sys $_pr_machine" \
            "build the environment for this node's platform"
        ;;
    esac
    if [ -n "$_pr_glibc" ] && [ "$_pr_sys" = Linux ]; then
        _pr_check_glibc
    fi
}

# _pr_version VERSION: sets _pr_major and _pr_minor from a leading "M.m", or fails.
_pr_version() {
    case $1 in *.*) ;; *) return 1 ;; esac
    _pr_major=${1%%.*}
    _pr_minor=${1#*.}
    _pr_minor=${_pr_minor%%[!0-9]*}
    case $_pr_major:$_pr_minor in
    :* | *: | *[!0-9:]*) return 1 ;;
    esac
}

_pr_check_glibc() {
    _pr_version "$_pr_glibc" || return 0
    _pr_floor_major=$_pr_major
    _pr_floor_minor=$_pr_minor
    _pr_node=$(getconf GNU_LIBC_VERSION 2>/dev/null) || _pr_node=
    _pr_node=${_pr_node#glibc }
    if ! _pr_version "$_pr_node"; then
        _pr_die 125 "$_pr_archive needs glibc >= $_pr_glibc, but this node has no glibc" \
            "run it on a glibc-based Linux node"
    fi
    if [ "$_pr_major" -lt "$_pr_floor_major" ] || {
        [ "$_pr_major" -eq "$_pr_floor_major" ] && [ "$_pr_minor" -lt "$_pr_floor_minor" ]
    }; then
        _pr_die 125 "$_pr_archive needs glibc >= $_pr_glibc, but this node has glibc $_pr_node" \
            "run it on a newer node, or build against an older glibc floor"
    fi
}

_pr_conda_unpack() {
    [ -f "$_pr_prefix/bin/conda-unpack" ] || return 0
    # shellcheck disable=SC2030 # activated for conda-unpack only, in this subshell
    (
        unset PYTHONPATH PYTHONHOME
        PATH=$_pr_prefix/bin${PATH:+:$PATH}
        CONDA_PREFIX=$_pr_prefix
        CONDA_DEFAULT_ENV=$_pr_prefix
        export PATH CONDA_PREFIX CONDA_DEFAULT_ENV
        exec "$_pr_prefix/bin/python" "$_pr_prefix/bin/conda-unpack"
    ) </dev/null >&2 9>&- ||
        _pr_die 125 "conda-unpack failed in $_pr_prefix (exit status $?)" \
            "see its messages above; the next run unpacks the environment again"
}

_pr_write_marker() {
    printf '%s\n' "$_pr_id" >"$_pr_prefix/$_pr_marker" ||
        _pr_die 125 "cannot write $_pr_prefix/$_pr_marker" \
            "check that the cache directory has free space"
    # flush the marker and its directory when sync accepts operands (coreutils >= 8.24)
    sync "$_pr_prefix/$_pr_marker" "$_pr_prefix" 2>/dev/null || :
}

_pr_unpack() {
    _pr_cleanup_prefix=$_pr_prefix
    _pr_remove_tree "$_pr_prefix" ||
        _pr_die 125 "cannot remove the incomplete environment $_pr_prefix" \
            "remove $_pr_prefix by hand"
    _pr_work=$_pr_root/.$_pr_id.work.$$
    _pr_cleanup_work=$_pr_work
    rm -rf "$_pr_work"
    mkdir -m 700 "$_pr_work" ||
        _pr_die 125 "cannot create $_pr_work" "check that $_pr_root is writable"
    _pr_tar_flavour
    _pr_compression
    _pr_check_members
    mkdir "$_pr_prefix" ||
        _pr_die 125 "cannot create $_pr_prefix" "check that $_pr_root is writable"
    tar -x $_pr_local $_pr_z -o -f "$_pr_archive" -C "$_pr_prefix" 2>"$_pr_work/err" 9>&- ||
        _pr_die 125 "cannot extract $_pr_archive into $_pr_prefix: $(head -n 1 "$_pr_work/err")" \
            "check that the archive is complete and that the cache directory has free space"
    chmod -R u+rwX,go-w,ug-s "$_pr_prefix" ||
        _pr_die 125 "cannot set permissions in $_pr_prefix" "remove $_pr_prefix and retry"
    _pr_check_node
    _pr_conda_unpack
    _pr_write_marker
    _pr_cleanup_prefix=
    rm -rf "$_pr_work"
    _pr_cleanup_work=
}

# ---------------------------------------------------------------- 4. activate, 5. exec

_pr_source() {
    # in a function, so that a script's `shift` or `set --` cannot touch the command
    # shellcheck disable=SC1090 # the scripts come from the archive
    . "$1"
}

_pr_source_activate_d() {
    [ -d "$1" ] || return 0
    _pr_lc_set=${LC_ALL+set}
    _pr_lc=${LC_ALL-}
    LC_ALL=C # byte order, as Python's sorted()
    set -- "$1"/*.sh
    if [ -n "$_pr_lc_set" ]; then LC_ALL=$_pr_lc; else unset LC_ALL; fi
    for _pr_script in "$@"; do
        if [ -f "$_pr_script" ]; then _pr_source "$_pr_script"; fi
    done
}

# _pr_status NAME: 0 runnable, 126 found but not executable, 127 not found (as execvp sees it)
_pr_status() {
    case $1 in
    '') return 127 ;;
    */*)
        if [ -d "$1" ]; then return 126; fi
        if [ -x "$1" ]; then return 0; fi
        if [ -e "$1" ]; then return 126; fi
        return 127
        ;;
    esac
    _pr_found=127
    _pr_ifs=$IFS
    IFS=:
    set -f
    # shellcheck disable=SC2031 # the activated PATH of the main shell, not the subshell's
    for _pr_dir in $PATH; do
        _pr_file=${_pr_dir:-.}/$1
        if [ -f "$_pr_file" ] && [ -x "$_pr_file" ]; then
            _pr_found=0
            break
        fi
        if [ -e "$_pr_file" ] && [ ! -d "$_pr_file" ]; then _pr_found=126; fi
    done
    set +f
    IFS=$_pr_ifs
    return "$_pr_found"
}

# ---------------------------------------------------------------- main

trap _pr_cleanup EXIT
trap 'exit 125' HUP INT TERM

_pr_cache_dir=
while [ $# -gt 0 ]; do
    case $1 in
    --cache-dir)
        [ $# -ge 2 ] || _pr_usage "--cache-dir needs a directory"
        _pr_cache_dir=$2
        [ -n "$_pr_cache_dir" ] || _pr_usage "--cache-dir needs a directory"
        shift 2
        ;;
    --cache-dir=*)
        _pr_cache_dir=${1#--cache-dir=}
        [ -n "$_pr_cache_dir" ] || _pr_usage "--cache-dir needs a directory"
        shift
        ;;
    -h | --help)
        printf '%s\n' "usage: pkg-run.sh [--cache-dir DIR] ARCHIVE COMMAND [ARG...]"
        exit 0
        ;;
    --)
        shift
        break
        ;;
    -*) _pr_usage "unknown option or missing value: $1" ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || _pr_usage "missing ARCHIVE or COMMAND"
_pr_archive=$1
shift
case $_pr_archive in -*) _pr_archive=./$_pr_archive ;; esac

_pr_lock_timeout
_pr_environment_id "$_pr_archive"
_pr_cache_root
_pr_prefix=$_pr_root/$_pr_id
if [ ! -e "$_pr_prefix/$_pr_marker" ]; then
    _pr_lock
    if [ ! -e "$_pr_prefix/$_pr_marker" ]; then _pr_unpack; fi
    _pr_unlock
fi

# shellcheck disable=SC2031 # the caller's PATH; the subshell's change was meant to be lost
PATH=$_pr_prefix/bin${PATH:+:$PATH}
CONDA_PREFIX=$_pr_prefix
CONDA_DEFAULT_ENV=$_pr_prefix
export PATH CONDA_PREFIX CONDA_DEFAULT_ENV
unset PYTHONPATH PYTHONHOME
trap - EXIT HUP INT TERM
_pr_source_activate_d "$_pr_prefix/etc/conda/activate.d"

_pr_status "$1"
case $? in
127)
    _pr_die 127 "command not found: $1" \
        "commands are looked up on PATH with $_pr_prefix/bin first; check the name"
    ;;
126) _pr_die 126 "command not executable: $1" "check its permissions (chmod +x) and its #! line" ;;
esac
exec "$@"
