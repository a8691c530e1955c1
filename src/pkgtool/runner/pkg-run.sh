#!/bin/sh
# pkg-run.sh - run a command inside a pkgtool environment archive, on nodes without Python.
#
# usage: sh pkg-run.sh [--cache-dir DIR] [--] ARCHIVE [--] COMMAND [ARG...]
#        ./env.sh [--cache-dir DIR] [--] COMMAND [ARG...]     (self-extracting archive)
#
# The POSIX sh twin of the Python module pkgtool.runner: both follow one protocol, share one
# cache and exclude each other (docs/runner.md; details in pkgtool/runner/*.py).
#
# 1. Environment id: the first 32 hex digits of the SHA-256 of the archive's bytes, computed
#    on the cold path while the same bytes are decompressed (tee). The warm path reads the
#    record <root>/.key-<key>, key = stat -L -c '%d-%i-%s-%.9Y-%.9Z' of the archive file.
# 2. Cache root: --cache-dir, else $PKG_CACHE_DIR, else /tmp/pkgtool-$(id -u) when /tmp is a
#    writable directory, else $TMPDIR/pkgtool-$(id -u) (TMPDIR last: batch systems give each
#    task its own TMPDIR, which would unpack again per task); created 0700; refused if a
#    symlink, not a directory, owned by another uid, or writable by group or others, or if
#    a directory above it is owned by neither this user nor root, or writable by group or
#    others without the sticky bit (symlinks above it resolved first).
# 3. Warm path: the record names <id>; shared flock on <root>/<id>.lock (opened with
#    truncation: its mtime is the last use); <root>/<id>/.pkgtool-ready exists. Cold path,
#    under an exclusive flock on <root>/.key-<key>.lock: look again; remove work directories
#    of dead runs; tee the archive into openssl dgst -sha256 (else sha256sum) and zstd -d
#    (for gzip only when this zstd reads gzip right, else gzip -d) into GNU tar -x
#    in this run's own <root>/.work-<key>_<owner>/tree; a failed decompressor (bad
#    CRC/checksum, truncation, trailing bytes) is "damaged"; check tar's list of names and
#    the extracted tree (find, no owner text parsed); under an exclusive flock on
#    <root>/<id>.lock: if not ready, take the claim <root>/.claim-<id> (a symlink: see
#    _pr_take; a flock that does not exclude gives no wrong environment), rename the tree
#    to <root>/<id>, check the node against .pkgtool/manifest.json, run
#    bin/conda-unpack, write the marker; write the record; make the lock shared.
#    Children inherit the locks, so a child outliving a killed runner keeps them.
#    Layered archives (first tar member .pkgtool/layers): P0 is decoded whole and the index
#    parsed strictly; each layer (env, code) is its own <root>/<layer id>/; a ready layer is
#    only hashed, a missing one hashed and extracted; every byte is verified before any layer
#    is committed; the record holds "<envid> <codeid>"; the warm path locks the code layer
#    only (one flock): prune counts an env in use while a code layer paired with it is.
# 4. Activate: <prefix>/bin first on PATH, CONDA_PREFIX, CONDA_DEFAULT_ENV, no PYTHONPATH or
#    PYTHONHOME, PKG_CODE_DIR=<root>/<codeid>/pkgtool-code for a code layer (else unset),
#    then source <prefix>/etc/conda/activate.d/*.sh in byte order of their names.
# 5. exec the command; it inherits the shared lock (pkg cache prune leaves the env alone).
#
# Exit status: the command's; 125 the runner failed; 126 command not executable; 127 command
# not found; 128+N signal N during the cold path. Errors are one "pkg-run: error: ..." and one
# "pkg-run: hint: ..." line on stderr.
#
# Needs (checked before anything is written): id, stat (GNU), flock, mkdir; on the cold path
# also GNU tar, gzip (or zstd for .tar.zst), tee, mkfifo, sha256sum, GNU dd, head, tail, od,
# cat, GNU find, chmod, mv, rm, sed, grep, uname, getconf, sync, ln, readlink, sleep.
# Every variable starts with _pr_.

# A self-extracting env.sh has the archive's offset in bytes here.
_pr_payload=
_pr_marker=.pkgtool-ready
_pr_archive_hint="give the path of an env.tar.gz made by pkg create"
_pr_unsafe_hint="the archive was not made by pkg create or was altered; rebuild it with pkg create"
_pr_damaged_hint="copy the archive again from where it was built (compare its sha256sum)"
_pr_cleanup_prefix=
_pr_cleanup_code=
_pr_bg=
_pr_work=
_pr_claims=
_pr_owner=
_pr_pids=
_pr_nl='
'
_pr_ws=" 	$_pr_nl" # the default IFS

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

# Stop the children of the cold path (they end at EOF once their input stops), then remove
# what this run made.
_pr_cleanup() {
    if [ -n "$_pr_pids$_pr_bg" ]; then
        # shellcheck disable=SC2086 # a list of pids
        kill $_pr_pids $_pr_bg 2>/dev/null
        wait
        _pr_pids=
        _pr_bg=
    fi
    # a prefix is removed only by the holder of its claim (_pr_take; set on the cold path)
    if [ -n "$_pr_cleanup_prefix" ] && _pr_holds "${_pr_cleanup_prefix##*/}"; then
        _pr_remove_tree "$_pr_cleanup_prefix"
    fi
    if [ -n "$_pr_cleanup_code" ] && _pr_holds "${_pr_cleanup_code##*/}"; then
        _pr_remove_tree "$_pr_cleanup_code"
    fi
    if [ -n "$_pr_work" ]; then _pr_remove_tree "$_pr_work"; fi
    if [ -n "$_pr_claims" ]; then _pr_release; fi
}

_pr_signalled() {
    trap - EXIT
    _pr_cleanup
    printf 'pkg-run: error: stopped by SIG%s while unpacking; nothing was left in the cache\n' \
        "$1" >&2
    printf 'pkg-run: hint: run the command again to unpack the environment\n' >&2
    exit "$2"
}

# _pr_need TOOL...: refuse with 125 naming the first tool that is not on PATH.
_pr_need() {
    for _pr_tool in "$@"; do
        command -v "$_pr_tool" >/dev/null 2>&1 ||
            _pr_die 125 "$_pr_tool is needed by pkg-run.sh and was not found on PATH" \
                "install it on this node, or run python -m pkgtool.runner instead"
    done
}

# ---------------------------------------------------------------- 2. cache root, 1. key

_pr_cache_root() {
    if [ -n "$_pr_cache_dir" ]; then
        _pr_root=$_pr_cache_dir
    elif [ -n "${PKG_CACHE_DIR-}" ]; then
        _pr_root=$PKG_CACHE_DIR
    elif [ -d /tmp ] && [ -w /tmp ] && [ -x /tmp ]; then
        _pr_root=/tmp/pkgtool-$_pr_me
    elif [ -n "${TMPDIR-}" ]; then
        _pr_root=$TMPDIR/pkgtool-$_pr_me
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
    case $_pr_root in *"$_pr_nl"*) _pr_die 125 "cache directory name has a newline" "$_pr_hint" ;; esac
    _pr_new=
    if [ ! -e "$_pr_root" ] && [ ! -L "$_pr_root" ]; then
        mkdir -p -- "${_pr_root%/*}/" 2>/dev/null
        _pr_new=1
    fi
    if ! _pr_ancestors "${_pr_root%/*}"; then # a symlink above the root: check where it leads
        _pr_parent=$(cd -P -- "${_pr_root%/*}/" 2>/dev/null && pwd -P) ||
            _pr_die 125 "cannot create cache directory $_pr_root" "$_pr_hint"
        _pr_root=${_pr_parent%/}/${_pr_root##*/}
        _pr_ancestors "${_pr_root%/*}" ||
            _pr_die 125 "cache directory $_pr_root: its parents changed while they were checked" \
                "$_pr_safe_hint"
    fi
    if [ -n "$_pr_new" ]; then
        mkdir -m 700 -- "$_pr_root" 2>/dev/null || [ -d "$_pr_root" ] ||
            _pr_die 125 "cannot create cache directory $_pr_root" "$_pr_hint"
    fi
    if [ -L "$_pr_root" ]; then
        _pr_die 125 "cache directory $_pr_root is a symlink" "$_pr_hint"
    fi
    if [ ! -d "$_pr_root" ]; then
        _pr_die 125 "cache directory $_pr_root is not a directory" "$_pr_hint"
    fi
}

_pr_safe_hint="another user could swap it for her own directory: choose a cache directory whose \
parents only you or root can change (a node-local PKG_CACHE_DIR, or the default /tmp/pkgtool-<uid>)"

# _pr_ancestors DIR: _pr_anc is DIR and every directory above it up to /, one per line, and
# _pr_nanc their number; fails when one of them is a symlink. The shell's own test, no
# process: their owners and modes come from the one stat of the warm path.
_pr_ancestors() {
    _pr_anc=/
    _pr_nanc=1
    _pr_d=$1
    while :; do
        case $_pr_d in '' | /) return 0 ;; esac
        [ ! -L "$_pr_d" ] || return 1
        _pr_anc=$_pr_anc$_pr_nl$_pr_d
        _pr_nanc=$((_pr_nanc + 1))
        _pr_d=${_pr_d%/*}
    done
}

# _pr_check_ancestors [KEY UID MODE]...: stat's fields of the directories of $_pr_anc, in
# that order. Each must be owned by this user or root, and writable by group or others only
# with the sticky bit (ssh's rule for the directories above its files): else another user
# could exchange the root for her own directory between the check and the use.
_pr_check_ancestors() {
    _pr_ifs=$IFS
    IFS=$_pr_nl
    set -f
    for _pr_d in $_pr_anc; do
        IFS=$_pr_ifs
        if [ "$2" != "$_pr_me" ] && [ "$2" != 0 ]; then
            _pr_die 125 "cache directory $_pr_root: its parent $_pr_d is owned by uid $2 \
(neither you, uid $_pr_me, nor root)" "$_pr_safe_hint"
        fi
        _pr_other=${3#"${3%?}"}
        _pr_group=${3%?}
        _pr_group=${_pr_group#"${_pr_group%?}"}
        case $_pr_group$_pr_other in
        *[2367]*)
            case $3 in
            [1357]???) ;;
            *) _pr_die 125 "cache directory $_pr_root: its parent $_pr_d is writable by others \
(mode 0$3, no sticky bit)" "$_pr_safe_hint" ;;
            esac
            ;;
        esac
        shift 3
    done
    IFS=$_pr_ifs
    set +f
}

# _pr_stat_fields FILE...: one LC_ALL=C stat of the archive, then of each FILE (the callers
# pass /proc/self first: its owner is this user); sets _pr_fields to "key uid mode" per file
# (no names printed: nothing an archive or another user names is parsed).
_pr_stat_fields() {
    _pr_fields=$(LC_ALL=C stat -L -c '%d-%i-%s-%.9Y-%.9Z %u %a' -- "$_pr_archive" "$@" 2>/dev/null)
}

# One stat for all: the archive's record key, this user's uid (/proc/self; id -u when there
# is no /proc), the root's owner and mode.
_pr_stat() {
    _pr_key=
    set -f
    IFS=$_pr_nl
    # shellcheck disable=SC2086 # one directory per line
    set -- $_pr_anc
    IFS=$_pr_ws
    set +f
    if _pr_stat_fields /proc/self "$_pr_root" "$@"; then
        set -f
        # shellcheck disable=SC2086 # split on purpose: key uid mode per file
        set -- $_pr_fields
        set +f
        if [ $# -eq $((9 + 3 * _pr_nanc)) ]; then
            _pr_key=$1
            _pr_me=$5
            _pr_uid=$8
            _pr_mode=$9
            shift 9
        fi
    fi
    if [ -z "$_pr_key" ]; then
        [ -n "$_pr_me" ] || _pr_me=$(id -u)
        set -f
        IFS=$_pr_nl
        # shellcheck disable=SC2086 # one directory per line
        set -- $_pr_anc
        IFS=$_pr_ws
        set +f
        _pr_stat_fields "$_pr_root" "$@" || _pr_die 125 "cannot stat $_pr_archive" "$_pr_archive_hint"
        set -f
        # shellcheck disable=SC2086 # split on purpose: key uid mode per file
        set -- $_pr_fields
        set +f
        [ $# -eq $((6 + 3 * _pr_nanc)) ] || _pr_die 125 "cannot stat $_pr_archive" "$_pr_archive_hint"
        _pr_key=$1
        _pr_uid=$5
        _pr_mode=$6
        shift 6
    fi
    case $_pr_key in *[!0-9.-]* | '') _pr_die 125 "cannot stat $_pr_archive: got '$_pr_key'" ;; esac
    case $_pr_me in *[!0-9]* | '') _pr_die 125 "cannot tell this user's uid: got '$_pr_me'" ;; esac
    _pr_check_ancestors "$@"
    _pr_check_owner_and_mode
}

_pr_check_owner_and_mode() {
    if [ "$_pr_uid" != "$_pr_me" ]; then
        _pr_die 125 "cache directory $_pr_root is owned by uid $_pr_uid, not by you (uid $_pr_me)" \
            "another user made it and only she or root can remove it: set PKG_CACHE_DIR (or \
--cache-dir) to a node-local directory of yours"
    fi
    _pr_other=${_pr_mode#"${_pr_mode%?}"}
    _pr_group=${_pr_mode%?}
    _pr_group=${_pr_group#"${_pr_group%?}"}
    case $_pr_group$_pr_other in
    *[2367]*)
        _pr_die 125 "cache directory $_pr_root is writable by others (mode 0$_pr_mode)" "$_pr_hint"
        ;;
    esac
}

# The default root of a warm run with one process: a single stat of the archive, /proc/self
# (its owner is this user) and the BASE/pkgtool-<digits> directories (names of digits only:
# another user's odd name is never passed on, and no name is parsed). Sets what _pr_cache_root
# and _pr_stat set; fails (the caller then takes the long way) when anything is unusual: an
# explicit root, no /proc, no root for this user yet.
_pr_fast_default_root() {
    [ -z "$_pr_cache_dir" ] && [ -z "${PKG_CACHE_DIR-}" ] || return 1
    if [ -d /tmp ] && [ -w /tmp ] && [ -x /tmp ]; then
        _pr_base=/tmp
    elif [ -n "${TMPDIR-}" ]; then
        _pr_base=${TMPDIR%/}
    else
        return 1
    fi
    case $_pr_base in /*) ;; *) return 1 ;; esac
    case $_pr_base in *"$_pr_nl"*) return 1 ;; esac
    _pr_ancestors "$_pr_base" || return 1
    _pr_uids=
    for _pr_c in "$_pr_base"/pkgtool-[0-9]*; do
        _pr_c=${_pr_c#"$_pr_base"/pkgtool-}
        case $_pr_c in *[!0-9]* | '') continue ;; esac
        set -- "$@" "$_pr_base/pkgtool-$_pr_c"
        _pr_uids="$_pr_uids $_pr_c"
    done
    [ -n "$_pr_uids" ] || return 1
    _pr_n=$(($# + _pr_nanc))
    set -f
    IFS=$_pr_nl
    # shellcheck disable=SC2086 # one directory per line
    set -- "$@" $_pr_anc
    IFS=$_pr_ws
    set +f
    _pr_stat_fields /proc/self "$@" || return 1
    set -f
    # shellcheck disable=SC2086 # split on purpose: key uid mode per file; uids: digits
    set -- $_pr_fields
    [ $# -eq $((3 * _pr_n + 6)) ] || { set +f; return 1; }
    _pr_key=$1
    _pr_me=$5
    shift 6
    _pr_root=
    for _pr_c in $_pr_uids; do
        if [ "$_pr_c" = "$_pr_me" ]; then
            _pr_root=$_pr_base/pkgtool-$_pr_c
            _pr_uid=$2
            _pr_mode=$3
        fi
        shift 3
    done
    set +f
    case $_pr_key in *[!0-9.-]* | '') return 1 ;; esac
    case $_pr_me in *[!0-9]* | '') return 1 ;; esac
    [ -n "$_pr_root" ] && [ ! -L "$_pr_root" ] && [ -d "$_pr_root" ] || return 1
    _pr_hint="choose another directory with --cache-dir or PKG_CACHE_DIR"
    _pr_check_ancestors "$@"
    _pr_check_owner_and_mode
}

# ---------------------------------------------------------------- 3. locks

_pr_lock_timeout() {
    _pr_timeout=${PKG_LOCK_TIMEOUT:-600}
    case $_pr_timeout in
    . | *[!0-9.]* | *.*.*)
        _pr_die 125 "PKG_LOCK_TIMEOUT='$_pr_timeout' is not a number of seconds" \
            "set it to a number such as 600, or unset it"
        ;;
    esac
}

# _pr_valid_id TEXT: 32 lowercase hex digits?
_pr_valid_id() {
    case $1 in
    *[!0-9a-f]* | '') return 1 ;;
    ????????????????????????????????) return 0 ;;
    esac
    return 1
}

# The warm path: sets _pr_prefix (and _pr_code, the code layer's directory, when the record
# names one) when every layer the record names is ready, holding a shared lock on one of them:
# the code layer's (fd 7) when there is one, which also keeps its env layer in use (prune
# pairs them through the records), else the env's (fd 8). fd 8 always has the env's lock file
# open (with truncation: its mtime is the last use). One flock process either way.
_pr_warm() {
    _pr_prefix=
    _pr_code=
    IFS=' ' read -r _pr_id _pr_cid _pr_rest 2>/dev/null <"$_pr_root/.key-$_pr_key" || return 1
    _pr_valid_id "$_pr_id" && [ -z "$_pr_rest" ] || return 1
    if [ -n "$_pr_cid" ]; then _pr_valid_id "$_pr_cid" || return 1; fi
    { command exec 8>"$_pr_root/$_pr_id.lock"; } 2>/dev/null ||
        _pr_die 125 "cannot open lock file $_pr_root/$_pr_id.lock" "check that $_pr_root is writable"
    _pr_fd=8
    _pr_held=$_pr_root/$_pr_id.lock
    if [ -n "$_pr_cid" ]; then
        { command exec 7>"$_pr_root/$_pr_cid.lock"; } 2>/dev/null || _pr_die 125 \
            "cannot open lock file $_pr_root/$_pr_cid.lock" "check that $_pr_root is writable"
        _pr_fd=7
        _pr_held=$_pr_root/$_pr_cid.lock
    fi
    LC_ALL=C flock -s -w "$_pr_timeout" "$_pr_fd" 2>/dev/null || _pr_lock_failed $? "$_pr_held"
    if [ ! -f "$_pr_root/$_pr_id/$_pr_marker" ] ||
        { [ -n "$_pr_cid" ] && [ ! -f "$_pr_root/$_pr_cid/$_pr_marker" ]; }; then
        exec 7>&- 8>&-
        return 1
    fi
    if [ -n "$_pr_cid" ]; then _pr_code=$_pr_root/$_pr_cid/pkgtool-code; fi
    _pr_prefix=$_pr_root/$_pr_id
    return 0
}

# _pr_lock_failed STATUS FILE: flock(1) exits 1 on a timeout; any other failure is flock(2)
# failing (ENOSYS, EINVAL, ENOLCK): the cache's filesystem has no flock.
_pr_lock_failed() {
    if [ "$1" -eq 1 ]; then
        _pr_die 125 "timed out after $_pr_timeout s waiting for lock $2 held by another run" \
            "another run is unpacking this archive: retry later or raise PKG_LOCK_TIMEOUT (seconds)"
    fi
    _pr_die 125 "cannot lock $2: the cache directory's filesystem does not support flock \
(a shared filesystem such as Lustre mounted noflock?)" \
        "use a node-local cache directory: --cache-dir or PKG_CACHE_DIR, e.g. the default \
/tmp/pkgtool-<uid>"
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
    LC_ALL=C # byte order, as sorted() in Python
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

# _pr_exec COMMAND [ARG...]: activate the environment in $_pr_prefix (and the code layer in
# $_pr_code) and exec the command; 126/127 as execvp would say.
_pr_exec() {
    # shellcheck disable=SC2031 # the caller's PATH; the subshell's change was meant to be lost
    PATH=$_pr_prefix/bin${PATH:+:$PATH}
    CONDA_PREFIX=$_pr_prefix
    CONDA_DEFAULT_ENV=$_pr_prefix
    export PATH CONDA_PREFIX CONDA_DEFAULT_ENV
    unset PYTHONPATH PYTHONHOME
    if [ -n "$_pr_code" ]; then
        PKG_CODE_DIR=$_pr_code
        export PKG_CODE_DIR
    else
        unset PKG_CODE_DIR
    fi
    trap - EXIT HUP INT TERM
    _pr_source_activate_d "$_pr_prefix/etc/conda/activate.d"
    _pr_status "$1"
    case $? in
    127)
        _pr_die 127 "command not found: $1" \
            "commands are looked up on PATH with $_pr_prefix/bin first; check the name"
        ;;
    126)
        _pr_die 126 "command not executable: $1" "check its permissions (chmod +x) and its #! line"
        ;;
    esac
    exec "$@"
}

# ---------------------------------------------------------------- main

trap _pr_cleanup EXIT
trap '_pr_signalled HUP 129' HUP
trap '_pr_signalled INT 130' INT
trap '_pr_signalled TERM 143' TERM

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
if [ -n "$_pr_payload" ]; then
    _pr_archive=$0
else
    [ $# -ge 1 ] || _pr_usage "missing ARCHIVE or COMMAND"
    _pr_archive=$1
    shift
    if [ "${1-}" = -- ]; then shift; fi
fi
[ $# -ge 1 ] || _pr_usage "missing ARCHIVE or COMMAND"
case $_pr_archive in -*) _pr_archive=./$_pr_archive ;; esac

_pr_need id stat flock mkdir
_pr_lock_timeout
if [ ! -f "$_pr_archive" ] || [ ! -r "$_pr_archive" ]; then
    _pr_die 125 "cannot read archive $_pr_archive: not a readable regular file" "$_pr_archive_hint"
fi
if ! _pr_fast_default_root; then
    _pr_me=
    if [ -z "$_pr_cache_dir" ] && [ -z "${PKG_CACHE_DIR-}" ]; then _pr_me=$(id -u); fi
    _pr_cache_root
    _pr_stat
fi
if _pr_warm; then _pr_exec "$@"; fi


# ---------------------------------------------------------------- 3. the cold path
#
# Below here is read only when the warm path did not exec: a warm run never parses it.

# _pr_flock FD FILE [-s]: lock the open descriptor FD (in the background, so that a signal
# is handled at once; the lock belongs to the open file, shared with this shell).
_pr_flock() {
    flock $3 -w "$_pr_timeout" "$1" 2>/dev/null &
    _pr_pids=$!
    wait "$_pr_pids"
    _pr_status=$?
    _pr_pids=
    if [ "$_pr_status" -ne 0 ]; then _pr_lock_failed "$_pr_status" "$2"; fi
}

_pr_payload_stream() {
    if [ -n "$_pr_payload" ]; then
        tail -c +$((_pr_payload + 1)) -- "$_pr_archive"
    else
        cat -- "$_pr_archive"
    fi
}

# _pr_range OFFSET LENGTH: LENGTH bytes of the payload from byte OFFSET (GNU dd seeks to
# the offset and copies the range in 1 MiB reads: one process)
_pr_range() {
    dd if="$_pr_archive" bs=1M iflag=skip_bytes,count_bytes status=none \
        skip=$((${_pr_payload:-0} + $1)) count="$2"
}

# _pr_hash_range OFFSET LENGTH FILE: write the SHA-256 of the range to FILE.
_pr_hash_range() {
    # shellcheck disable=SC2086 # the hasher's command line
    _pr_range "$1" "$2" | $_pr_sha >"$3"
}

# _pr_choose_sha: _pr_sha is `openssl dgst -sha256 -r` when the node has an openssl that
# gives the right digest (several times faster than sha256sum: it uses the CPU's SHA
# instructions), else sha256sum. Either prints the digest first.
_pr_choose_sha() {
    _pr_sha=sha256sum
    command -v openssl >/dev/null 2>&1 || return 0
    _pr_h=$(printf abc | openssl dgst -sha256 -r 2>/dev/null)
    case $_pr_h in
    ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad*) _pr_sha="openssl dgst -sha256 -r" ;;
    esac
}

# _pr_choose_gunzip: _pr_unz decodes gzip with `zstd -d` when the node's zstd reads gzip
# (built with zlib: its inflate takes about 60% of the CPU time of gzip's own) and gives the
# right bytes for a known member; else with gzip. Both check each member's CRC32 and ISIZE;
# zstd also refuses any bytes after the last member, gzip only non-zero ones.
_pr_choose_gunzip() {
    _pr_unz="gzip -d -c -v"
    command -v zstd >/dev/null 2>&1 || return 0
    _pr_h=$({ # printf abc | gzip -n: one whole member
        printf '\037\213\010\000\000\000\000\000\000\003'         # header (RFC 1952)
        printf '\113\114\112\006\000\302\101\044\065\003\000\000\000' # deflate, CRC32, ISIZE
    } | zstd -d -c -q 2>/dev/null)
    if [ "$_pr_h" = abc ]; then _pr_unz="zstd -d -c -q"; fi
}

_pr_compression() {
    _pr_magic=$(od -A n -t x1 -N 4 -j "${_pr_payload:-0}" -- "$_pr_archive") ||
        _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
    # shellcheck disable=SC2086 # split on purpose: od's spacing varies between systems
    _pr_magic=$(printf ' %s' $_pr_magic)
    case $_pr_magic in
    ' 1f 8b 08'*)
        _pr_lead=' 1f 8b 08'
        _pr_unit="gzip member"
        _pr_choose_gunzip
        ;;
    ' 28 b5 2f fd')
        _pr_need zstd
        _pr_lead=' 28 b5 2f fd'
        _pr_unit="zstd frame"
        _pr_unz="zstd -d -c -q"
        ;;
    ' 23 21'*) # "#!": a self-extracting archive given as ARCHIVE
        if [ -z "$_pr_payload" ]; then
            _pr_payload=$(head -c 65536 -- "$_pr_archive" |
                sed -n 's/^_pr_payload=\([0-9][0-9]*\) *$/\1/p' | head -n 1)
            if [ -n "$_pr_payload" ]; then
                _pr_compression
                return
            fi
        fi
        _pr_damaged "it is neither gzip nor zstd data"
        ;;
    '') _pr_damaged "it is empty" ;;
    *) _pr_damaged "it is neither gzip nor zstd data" ;;
    esac
}

_pr_damaged() {
    _pr_die 125 "archive $_pr_archive is damaged or not a pkgtool archive: $1" "$_pr_damaged_hint"
}

_pr_unsafe() {
    _pr_die 125 "unsafe member '$1' in $_pr_archive: $2" "$_pr_unsafe_hint"
}

# _pr_first_line FILE PATTERN DEFAULT: the first line of FILE matching PATTERN, else DEFAULT.
_pr_first_line() {
    _pr_line=$(grep -v -e 'Removing leading' -- "$1" 2>/dev/null | grep -e "$2" | head -n 1)
    printf '%s' "${_pr_line:-$3}"
}

# _pr_stream_into [OFFSET LENGTH]: hash and extract the payload (or LENGTH bytes of it from
# OFFSET: one layer) into $_pr_w/tree in one pass; sets _pr_sum (64 hex digits). Refuses a
# full disk, a damaged stream; tar's own status is left in $_pr_w/tar.rc.
_pr_stream_into() {
    if [ $# -eq 2 ]; then
        _pr_limit=$2
    else
        _pr_limit=${_pr_key#*-}
        _pr_limit=${_pr_limit#*-}
        _pr_limit=$((${_pr_limit%%-*} - ${_pr_payload:-0}))
    fi
    _pr_limit=$((67108864 + 32 * _pr_limit)) # 64 MiB + 32 times the compressed size
    mkfifo "$_pr_w/h" "$_pr_w/z" "$_pr_w/t" ||
        _pr_die 125 "cannot create pipes in $_pr_w" "check that the cache directory has free space"
    # One child starts the hasher, tar, the decompressor and tee, which meet at the fifos: a
    # kill of this shell between two of those starts would leave a child waiting at a fifo
    # forever for a partner that is never started, holding the inherited locks. The child
    # itself is only stopped by this shell (TERM: it stops the others first).
    (
        trap 'kill $_pr_kids 2>/dev/null; exit 143' TERM
        # shellcheck disable=SC2086 # the hasher's command line
        $_pr_sha <"$_pr_w/h" >"$_pr_w/sum" &
        _pr_kids=$!
        {
            # -i: a layer appended as a whole tar (own gzip member or zstd frame) is read too
            tar -x -i -v -o -f - -C "$_pr_w/tree" 2>"$_pr_w/tar.err"
            echo "$?" >"$_pr_w/tar.rc" 2>/dev/null
            cat >/dev/null # tar may stop before the end: drain, so the decompressor checks all
        } <"$_pr_w/t" >"$_pr_w/names" &
        _pr_kids="$_pr_kids $!"
        # At most _pr_limit bytes reach tar: past them head exits, and the decompressor
        # stops on a broken pipe (a bomb writes no more than that).
        {
            # shellcheck disable=SC2086 # the decompressor's command line
            $_pr_unz <"$_pr_w/z" 2>"$_pr_w/z.err"
            echo "$?" >"$_pr_w/unz.rc" 2>/dev/null
        } | head -c "$_pr_limit" >"$_pr_w/t" &
        _pr_p_unz=$!
        _pr_kids="$_pr_kids $_pr_p_unz"
        if [ $# -eq 2 ]; then _pr_range "$1" "$2"; else _pr_payload_stream; fi |
            tee "$_pr_w/h" >"$_pr_w/z" &
        _pr_p_tee=$!
        _pr_kids="$_pr_kids $_pr_p_tee"
        wait "$_pr_p_tee"
        echo "$?" >"$_pr_w/tee.rc" 2>/dev/null
        wait
    ) &
    _pr_pids=$!
    wait "$_pr_pids"
    _pr_pids=
    read -r _pr_rc_tee <"$_pr_w/tee.rc" || _pr_rc_tee=1
    read -r _pr_rc_unz <"$_pr_w/unz.rc" || _pr_rc_unz=1
    if grep -q -e 'No space left on device' -- "$_pr_w/tar.err" 2>/dev/null ||
        ! printf 'probe\n' 2>/dev/null >"$_pr_w/probe"; then
        _pr_die 125 "cannot extract $_pr_archive into $_pr_root: No space left on device" \
            "free space there, or choose another cache directory with --cache-dir or PKG_CACHE_DIR"
    fi
    if [ "$_pr_rc_unz" -eq 141 ] || { [ "$_pr_rc_unz" -ne 0 ] &&
        grep -q -e 'Broken pipe' -- "$_pr_w/z.err" 2>/dev/null; }; then
        _pr_damaged "it expands to more than $_pr_limit bytes (32 times its compressed size \
+ 64 MiB: a decompression bomb)"
    fi
    if [ "$_pr_rc_unz" -ne 0 ]; then
        _pr_damaged "$(_pr_first_line "$_pr_w/z.err" 'gzip\|zstd\|rror' \
            "${_pr_unz%% *} exit status $_pr_rc_unz")"
    fi
    if [ "$_pr_rc_tee" -ne 0 ]; then
        _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
    fi
    read -r _pr_sum _pr_rest <"$_pr_w/sum" || _pr_sum=
    case $_pr_sum in
    *[!0-9a-f]* | '') _pr_die 125 "cannot hash $_pr_archive with ${_pr_sha%% *}" ;;
    esac
}

# _pr_check_extracted [code]: the names and tree in $_pr_w, then tar's own status.
_pr_check_extracted() {
    _pr_check_names
    if [ "${1-}" = code ]; then _pr_check_code; fi
    _pr_check_tree
    read -r _pr_rc_tar <"$_pr_w/tar.rc" || _pr_rc_tar=1
    if [ "$_pr_rc_tar" != 0 ]; then
        _pr_die 125 "cannot extract $_pr_archive: $(_pr_first_line "$_pr_w/tar.err" . \
            "tar exit status $_pr_rc_tar")" \
            "the archive was not made by pkg create or was altered, or the cache directory is full"
    fi
}

_pr_extract() {
    _pr_w=$_pr_work
    _pr_stream_into
    _pr_check_extracted
    _pr_id=${_pr_sum%"${_pr_sum#????????????????????????????????}"}
}

# Names as tar listed them (GNU tar escapes newlines: one name per line).
_pr_check_names() {
    _pr_bad=$(grep -n -E -e '^/' -e '(^|/)\.\.(/|$)' -e '^(\.?/)*\.pkgtool-ready(/|$)' \
        "$_pr_w/names" | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_name=${_pr_bad#*:}
        case $_pr_name in
        /*) _pr_unsafe "$_pr_name" "absolute path" ;;
        .. | ../* | */.. | */../*) _pr_unsafe "$_pr_name" "'..' component" ;;
        *) _pr_unsafe "$_pr_name" "reserved name $_pr_marker" ;;
        esac
    fi
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


# The extracted tree, from lstat and readlink (GNU find, one walk): no devices, fifos or
# sockets, links that stay inside, no hard link to a link, no marker; the modes are
# normalised on the way (u+rw, u+x where any x or a directory, no go+w, setuid, setgid or
# sticky bit), for the entries that need it only.
_pr_check_tree() {
    _pr_t=$_pr_w/tree
    if [ -e "$_pr_t/$_pr_marker" ] || [ -L "$_pr_t/$_pr_marker" ]; then
        _pr_unsafe "$_pr_marker" "reserved name $_pr_marker"
    fi
    find "$_pr_t" \( -name "*$_pr_nl*" -o -lname "*$_pr_nl*" \) -printf 'N\n' -quit -o \
        ! -type f ! -type d -printf '%y %n %P\n%l\n' -o \
        \( -perm /7022 -o ! -perm -600 -o \( -type d ! -perm -100 \) -o \
        \( -perm /111 ! -perm -100 \) \) -exec chmod u+rwX,go-w,ug-s,a-t {} + \
        >"$_pr_w/special" ||
        _pr_die 125 "cannot check the files extracted from $_pr_archive" "$_pr_unsafe_hint"
    while IFS= read -r _pr_entry && IFS= read -r _pr_target; do
        _pr_type=${_pr_entry%% *}
        _pr_entry=${_pr_entry#* }
        _pr_links=${_pr_entry%% *}
        _pr_path=${_pr_entry#* }
        if [ "$_pr_type" != l ]; then
            _pr_unsafe "$_pr_path" "device, fifo or other special file"
        fi
        _pr_check_link "$_pr_path" "$_pr_target" || _pr_unsafe "$_pr_path" "$_pr_reason"
        if [ "$_pr_links" != 1 ]; then
            _pr_unsafe "$_pr_path" "hard link to a symbolic link"
        fi
    done <"$_pr_w/special"
    if [ "$_pr_entry" = N ]; then # the walk stopped at a name or target with a newline
        _pr_bad=$(find "$_pr_t" \( -name "*$_pr_nl*" -o -lname "*$_pr_nl*" \) -print -quit)
        _pr_unsafe "${_pr_bad#"$_pr_t/"}" "name or link target with a newline"
    fi
}

# A code layer: only pkgtool-code/ and, under it, directories and regular files with one name.
_pr_check_code() {
    _pr_bad=$(grep -n -v -E -e '^(\.?/)*pkgtool-code(/|$)' "$_pr_w/names" | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_unsafe "${_pr_bad#*:}" "a code layer holds only pkgtool-code/"
    fi
    _pr_t=$_pr_w/tree
    _pr_bad=$(find "$_pr_t" -mindepth 1 -maxdepth 1 ! -name pkgtool-code -printf '%P\n' |
        head -n 1)
    if [ -n "$_pr_bad" ]; then _pr_unsafe "$_pr_bad" "a code layer holds only pkgtool-code/"; fi
    _pr_bad=$(find "$_pr_t" -mindepth 1 ! -type d ! -type f -printf '%P\n' | head -n 1)
    if [ -n "$_pr_bad" ]; then
        _pr_unsafe "$_pr_bad" "a code layer holds only directories and files"
    fi
    _pr_bad=$(find "$_pr_t" -type f -links +1 -printf '%P\n' | head -n 1)
    if [ -n "$_pr_bad" ]; then _pr_unsafe "$_pr_bad" "a hard link in a code layer"; fi
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
    ) </dev/null >&2 &
    _pr_pids=$!
    wait "$_pr_pids"
    _pr_status=$?
    _pr_pids=
    [ "$_pr_status" -eq 0 ] ||
        _pr_die 125 "conda-unpack failed in $_pr_prefix (exit status $_pr_status)" \
            "see its messages above; the next run unpacks the environment again"
}

# _pr_write_marker DIR ID [KIND]: the marker of DIR: the id, the archive, the layer's kind.
_pr_write_marker() {
    case $_pr_archive in
    /*) _pr_abs=$_pr_archive ;;
    *) _pr_abs=$(pwd)/$_pr_archive ;;
    esac
    printf '%s\n%s\n%s' "$2" "$_pr_abs" "${3:+$3$_pr_nl}" >"$1/$_pr_marker" ||
        _pr_die 125 "cannot write $1/$_pr_marker" \
            "check that the cache directory has free space"
    # flush the marker and its directory when sync accepts operands (coreutils >= 8.24)
    sync "$1/$_pr_marker" "$1" "$_pr_root" 2>/dev/null || sync
}

# ---------------------------------------------------------------- 3. layered archives

# _pr_probe_layers: a layered archive (its first tar member is .pkgtool/layers)? Then check
# P0 (decoded whole: one member, nothing else) and the index, setting _pr_env_*, _pr_code_*,
# _pr_end_* (sha, off, len); return 1 for a legacy archive.
_pr_probe_layers() {
    _pr_x=$_pr_work/index.d
    mkdir -m 700 "$_pr_x" || _pr_die 125 "cannot create $_pr_x" "check that $_pr_root is writable"
    _pr_range 0 65536 >"$_pr_x/head" 2>/dev/null ||
        _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
    # The start of the content, decoded once (errors ignored: the legacy path reports them):
    # is its first member the index, and where does the env layer start (= the length of P0)?
    # shellcheck disable=SC2086 # the decompressor's command line
    $_pr_unz <"$_pr_x/head" 2>/dev/null | head -c 16384 >"$_pr_x/first"
    tar -t -f "$_pr_x/first" >"$_pr_x/first.list" 2>/dev/null
    read -r _pr_first <"$_pr_x/first.list" || [ -n "$_pr_first" ] || return 1
    case $_pr_first in
    .pkgtool/layers) ;;
    .pkgtool/layers/*) _pr_damaged "the first member is not a regular file .pkgtool/layers" ;;
    *) return 1 ;;
    esac
    tar -x -O -f "$_pr_x/first" .pkgtool/layers >"$_pr_x/first.index" 2>/dev/null
    _pr_p0len=
    while read -r _pr_k _pr_s _pr_o _pr_l; do
        if [ "$_pr_k" = env ]; then
            _pr_p0len=$_pr_o
            break
        fi
    done <"$_pr_x/first.index"
    case $_pr_p0len in
    '' | 0* | *[!0-9]* | ???????*) _pr_damaged "its layer index has no env layer" ;;
    esac
    [ "$_pr_p0len" -le 65536 ] || _pr_damaged "its index member is longer than 65536 bytes"
    _pr_psize=${_pr_key#*-}
    _pr_psize=${_pr_psize#*-}
    _pr_psize=$((${_pr_psize%%-*} - ${_pr_payload:-0}))
    [ "$_pr_p0len" -le "$_pr_psize" ] || _pr_damaged "it ends inside its index member (truncated)"
    head -c "$_pr_p0len" "$_pr_x/head" >"$_pr_x/p0"
    {
        # shellcheck disable=SC2086
        $_pr_unz <"$_pr_x/p0" 2>"$_pr_x/p0.err"
        echo "$?" >"$_pr_x/p0.rc"
    } | head -c 16385 >"$_pr_x/p0.tar"
    read -r _pr_rc <"$_pr_x/p0.rc" || _pr_rc=1
    if [ "$_pr_rc" != 0 ]; then
        _pr_damaged "its index member: $(_pr_first_line "$_pr_x/p0.err" 'gzip\|zstd\|rror' \
            "${_pr_unz%% *} exit status $_pr_rc")"
    fi
    _pr_n=$(stat -c %s "$_pr_x/p0.tar")
    if [ "$_pr_n" -gt 16384 ] || [ $((_pr_n % 512)) -ne 0 ]; then
        _pr_damaged "its index member is not one tar member"
    fi
    _pr_one_unit "$_pr_x/p0" "$_pr_p0len" "$_pr_n" ||
        _pr_damaged "its index member is not one $_pr_unit"
    _pr_list=$(tar -t -f "$_pr_x/p0.tar" 2>/dev/null) && [ "$_pr_list" = .pkgtool/layers ] ||
        _pr_damaged "its index member holds more than the tar member .pkgtool/layers"
    if od -A n -v -w512 -t x1 "$_pr_x/p0.tar" | grep -q -x -E '( 00)+'; then
        _pr_damaged "its index member holds more than the tar member .pkgtool/layers"
    fi
    tar -x -O -f "$_pr_x/p0.tar" .pkgtool/layers >"$_pr_x/index" 2>/dev/null ||
        _pr_damaged "its index member holds no regular file .pkgtool/layers"
    _pr_read_index "$_pr_x/index"
}

# _pr_read_index FILE: parse the index strictly (docs/runner.md); its lines are at most
# four of at most 101 bytes, so the index is shorter than 4096 bytes once they pass.
# _pr_one_unit FILE LENGTH CONTENT: is FILE (LENGTH bytes, decoding to CONTENT bytes) one
# gzip member or zstd frame, as the Python runner requires of P0? gzip: the last member's
# ISIZE (its last 4 bytes, little-endian) is the whole content's length; zstd: `zstd -l`
# counts one frame (its table's first column; an unreadable table is not held against it).
_pr_one_unit() {
    if [ "$_pr_unit" = "gzip member" ]; then
        # shellcheck disable=SC2046 # four numbers
        set -- $(od -A n -t u1 -j $(($2 - 4)) -N 4 -- "$1") "$3"
        [ $# -eq 5 ] && [ $(($1 + 256 * $2 + 65536 * $3 + 16777216 * $4)) = "$5" ]
        return
    fi
    _pr_frames=$(zstd -l -- "$1" 2>/dev/null | sed -n '2{s/^ *\([0-9]*\) .*/\1/p;}')
    case $_pr_frames in '' | 1) return 0 ;; esac
    return 1
}

_pr_read_index() {
    _pr_bad=$(grep -a -n -v -x -E -m 1 -e 'pkgtool-layers 1' \
        -e '(env|code|end) [0-9a-f]{64} (0|[1-9][0-9]{0,14}) (0|[1-9][0-9]{0,14})' "$1")
    [ -z "$_pr_bad" ] || _pr_damaged "bad line in the layer index: ${_pr_bad#*:}"
    _pr_pos=$_pr_p0len
    _pr_kinds=
    _pr_first=1
    _pr_code_sha=
    while read -r _pr_k _pr_s _pr_o _pr_l; do
        if [ -n "$_pr_first" ]; then
            [ "$_pr_k $_pr_s" = "pkgtool-layers 1" ] ||
                _pr_damaged "the layer index does not start with 'pkgtool-layers 1'"
            _pr_first=
            continue
        fi
        _pr_kinds="$_pr_kinds $_pr_k"
        # env, code or end (grep checked every line): _pr_env_sha, _pr_env_off, _pr_env_len...
        eval "_pr_${_pr_k}_sha=\$_pr_s _pr_${_pr_k}_off=\$_pr_o _pr_${_pr_k}_len=\$_pr_l"
    done <"$1"
    # read fails on a last line without its newline, having read that line
    [ -z "$_pr_k$_pr_s$_pr_o$_pr_l" ] || _pr_damaged "the layer index does not end with a newline"
    case $_pr_kinds in
    ' env end' | ' env code end') ;;
    *) _pr_damaged "the layer index lists${_pr_kinds:- nothing}, not env [code] end" ;;
    esac
    for _pr_k in $_pr_kinds; do
        eval "_pr_o=\$_pr_${_pr_k}_off _pr_l=\$_pr_${_pr_k}_len"
        [ "$_pr_o" = "$_pr_pos" ] || _pr_damaged "the $_pr_k layer starts at $_pr_o, not $_pr_pos"
        _pr_pos=$((_pr_pos + _pr_l))
    done
    [ "$_pr_pos" = "$_pr_psize" ] ||
        _pr_damaged "the layers end at byte $_pr_pos, the archive at $_pr_psize"
    # Each layer starts as P0 does (zstd -d decodes gzip too: a whole layer of the other
    # compression would pass it).
    for _pr_k in $_pr_kinds; do
        eval "_pr_o=\$_pr_${_pr_k}_off"
        _pr_m=$(od -A n -t x1 -N 4 -j $((${_pr_payload:-0} + _pr_o)) -- "$_pr_archive") ||
            _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
        # shellcheck disable=SC2086 # split on purpose: od's spacing varies between systems
        case $(printf ' %s' $_pr_m) in
        "$_pr_lead"*) ;;
        *) _pr_damaged "its $_pr_k layer does not start with a $_pr_unit as P0 does" ;;
        esac
    done
    [ "$_pr_end_len" -le 65536 ] || _pr_damaged "the end layer is longer than 65536 bytes"
}

# _pr_layer KIND READY SHA OFFSET LENGTH: a ready layer is hashed in the background (into
# $_pr_work/KIND.sum, checked by _pr_check_hashed); a missing one is hashed and extracted
# into $_pr_work/KIND/tree now, and its SHA-256 must be SHA.
_pr_layer() {
    if [ -n "$2" ]; then
        _pr_hash_range "$4" "$5" "$_pr_work/$1.sum" &
        _pr_bg="$_pr_bg $!"
        return 0
    fi
    _pr_w=$_pr_work/$1
    mkdir -m 700 "$_pr_w" "$_pr_w/tree" ||
        _pr_die 125 "cannot create $_pr_w" "check that $_pr_root is writable and not full"
    _pr_stream_into "$4" "$5"
    [ "$_pr_sum" = "$3" ] || _pr_damaged "the SHA-256 of its $1 layer does not match its index"
}

# _pr_check_hashed KIND SHA: the background hash of a ready layer must be SHA.
_pr_check_hashed() {
    read -r _pr_sum _pr_rest 2>/dev/null <"$_pr_work/$1.sum" || _pr_sum=
    case $_pr_sum in
    *[!0-9a-f]* | '') _pr_die 125 "cannot hash $_pr_archive with ${_pr_sha%% *}" ;;
    esac
    [ "$_pr_sum" = "$2" ] || _pr_damaged "the SHA-256 of its $1 layer does not match its index"
}

# The end layer: its hash, then exactly 1024 zero bytes once decoded.
_pr_check_end() {
    _pr_x=$_pr_work/index.d
    _pr_range "$_pr_end_off" "$_pr_end_len" >"$_pr_x/end" ||
        _pr_die 125 "cannot read archive $_pr_archive" "$_pr_archive_hint"
    [ "$(stat -c %s "$_pr_x/end")" = "$_pr_end_len" ] ||
        _pr_damaged "it ends before its last layer does (truncated)"
    _pr_sum=$(sha256sum <"$_pr_x/end") || _pr_die 125 "cannot hash $_pr_archive with sha256sum"
    [ "${_pr_sum%% *}" = "$_pr_end_sha" ] ||
        _pr_damaged "the SHA-256 of its end layer does not match its index"
    {
        # shellcheck disable=SC2086
        $_pr_unz <"$_pr_x/end" 2>"$_pr_x/end.err"
        echo "$?" >"$_pr_x/end.rc"
    } | head -c 1025 >"$_pr_x/end.raw"
    read -r _pr_rc <"$_pr_x/end.rc" || _pr_rc=1
    if [ "$(stat -c %s "$_pr_x/end.raw")" != 1024 ] ||
        od -A n -v -t x1 "$_pr_x/end.raw" | grep -q '[1-9a-f]'; then
        _pr_damaged "its end layer is not 1024 zero bytes"
    fi
    [ "$_pr_rc" = 0 ] || _pr_damaged "its end layer: $(_pr_first_line "$_pr_x/end.err" \
        'gzip\|zstd\|rror' "${_pr_unz%% *} exit status $_pr_rc")"
}

# _pr_timeout_tenths: _pr_tenths, the lock timeout in tenths of a second.
_pr_timeout_tenths() {
    _pr_i=${_pr_timeout%%.*}
    while :; do
        case $_pr_i in 0?*) _pr_i=${_pr_i#0} ;; *) break ;; esac
    done
    _pr_f=${_pr_timeout#"$_pr_i"}
    _pr_f=${_pr_f#*.}
    _pr_f=${_pr_f%"${_pr_f#?}"}
    _pr_tenths=$((${_pr_i:-0} * 10 + ${_pr_f:-0}))
}

# Claims (pkgtool/runner/_claim.py): a flock that succeeds without excluding (nodes whose
# locks do not see each other) must not give a wrong environment, so who installs a layer
# is decided by an atomic symlink(2), <root>/.claim-ID -> <host>_<pid>_<random>. Only its
# holder removes a leftover <root>/ID, renames its tree there and writes the marker; the
# others wait for the marker. A dead holder of this host loses its claim to the next run.

# _pr_holds ID: does this run hold the claim <root>/.claim-ID?
_pr_holds() {
    [ -n "$_pr_owner" ] && [ "$(readlink -- "$_pr_root/.claim-$1" 2>/dev/null)" = "$_pr_owner" ]
}

# _pr_release: remove the claims this run holds.
_pr_release() {
    for _pr_c in $_pr_claims; do
        if _pr_holds "$_pr_c"; then rm -f -- "$_pr_root/.claim-$_pr_c"; fi
    done
    _pr_claims=
}

# _pr_is_dead OWNER: is OWNER (<host>_<pid>_<random>) a process of this host that has ended?
_pr_is_dead() {
    case $1 in "$_pr_host"_*_*) ;; *) return 1 ;; esac
    _pr_p=${1#"$_pr_host"_}
    _pr_p=${_pr_p%_*}
    case $_pr_p in '' | *[!0-9]*) return 1 ;; esac
    if kill -0 "$_pr_p" 2>/dev/null || [ -d "/proc/$_pr_p" ]; then return 1; fi
    return 0
}

# _pr_remove_stale ID HOLDER: remove the dead HOLDER's claim of ID; if a live run claimed
# it meanwhile, put that back (or that run sees it lost its claim before writing a marker).
_pr_remove_stale() {
    _pr_stale=$_pr_root/.claim-$1.stale-$_pr_owner
    mv -- "$_pr_root/.claim-$1" "$_pr_stale" 2>/dev/null || return 0
    _pr_found=$(readlink -- "$_pr_stale")
    rm -f -- "$_pr_stale"
    if [ "$_pr_found" != "$2" ]; then ln -s -n -- "$_pr_found" "$_pr_root/.claim-$1" 2>/dev/null; fi
    return 0
}

# _pr_take ID: 0 holding the claim of layer ID (its marker absent), 1 once another run's
# marker exists; 125 when the claim's holder has not finished within the lock timeout.
_pr_take() {
    _pr_timeout_tenths
    while [ ! -f "$_pr_root/$1/$_pr_marker" ]; do
        if ln -s -n -- "$_pr_owner" "$_pr_root/.claim-$1" 2>/dev/null; then
            _pr_claims="$_pr_claims $1"
            [ -f "$_pr_root/$1/$_pr_marker" ] || return 0
            _pr_release # the last holder finished just before: use its work
            return 1
        fi
        if ! _pr_holder=$(readlink -- "$_pr_root/.claim-$1" 2>/dev/null); then
            [ -e "$_pr_root/.claim-$1" ] || [ -L "$_pr_root/.claim-$1" ] || continue
            _pr_holder='?'
        fi
        if _pr_is_dead "$_pr_holder"; then
            _pr_remove_stale "$1" "$_pr_holder"
            continue
        fi
        _pr_tenths=$((_pr_tenths - 1))
        [ "$_pr_tenths" -gt 0 ] || _pr_die 125 "timed out after $_pr_timeout s waiting for \
$(_pr_describe "$_pr_holder") to unpack $_pr_root/$1 (claim $_pr_root/.claim-$1)" \
            "if that run died, remove $_pr_root/.claim-$1; $_pr_shared_hint; or raise \
PKG_LOCK_TIMEOUT (seconds)"
        sleep 0.1
    done
    return 1
}

_pr_shared_hint="if the cache is on a shared filesystem whose locks do not work across nodes, \
use a node-local cache directory: --cache-dir or PKG_CACHE_DIR, e.g. the default \
/tmp/pkgtool-<uid>"

_pr_describe() {
    case $1 in
    *_*_*_*) printf "'%s'" "$1" ;;
    *_*_*) _pr_p=${1#*_} && printf 'pid %s on host %s' "${_pr_p%_*}" "${1%%_*}" ;;
    *) printf "'%s'" "$1" ;;
    esac
}

# _pr_check_held ID: 125 unless this run still holds the claim of ID.
_pr_check_held() {
    _pr_holds "$1" || _pr_die 125 "another run took over the unpacking of $_pr_root/$1" \
        "$_pr_shared_hint"
}

# _pr_claim FD LOCKFILE MARKER: 0 holding FD exclusively (MARKER absent: install now); 1
# holding it shared (another run installed it meanwhile and may run a command in it).
_pr_claim() {
    _pr_timeout_tenths
    while :; do
        flock -x -w 0.1 "$1" 2>/dev/null
        _pr_s=$?
        if [ "$_pr_s" -eq 0 ]; then
            [ -f "$3" ] || return 0
            flock -s "$1"
            return 1
        fi
        [ "$_pr_s" -eq 1 ] || _pr_lock_failed "$_pr_s" "$2"
        if flock -s -n "$1"; then
            if [ -f "$3" ]; then return 1; fi
            flock -u "$1"
        fi
        _pr_tenths=$((_pr_tenths - 1))
        [ "$_pr_tenths" -gt 0 ] || _pr_die 125 \
            "timed out after $_pr_timeout s waiting for lock $2 held by another run" \
            "another run is unpacking this layer: retry later or raise PKG_LOCK_TIMEOUT (seconds)"
    done
}

# The cold path of a layered archive, under the key lock, after _pr_probe_layers.
_pr_cold_layered() {
    _pr_id=${_pr_env_sha%"${_pr_env_sha#????????????????????????????????}"}
    _pr_cid=${_pr_code_sha%"${_pr_code_sha#????????????????????????????????}"}
    [ "$_pr_id" != "$_pr_cid" ] || _pr_damaged "the env and code layers have the same id"
    # 1. shared locks; a ready layer keeps its own, so no prune removes it meanwhile
    { command exec 8>"$_pr_root/$_pr_id.lock"; } 2>/dev/null ||
        _pr_die 125 "cannot open lock file $_pr_root/$_pr_id.lock" "check that $_pr_root is writable"
    _pr_flock 8 "$_pr_root/$_pr_id.lock" -s
    _pr_env_ready=
    if [ -f "$_pr_root/$_pr_id/$_pr_marker" ]; then _pr_env_ready=1; else flock -u 8; fi
    _pr_code_ready=
    if [ -n "$_pr_cid" ]; then
        { command exec 7>"$_pr_root/$_pr_cid.lock"; } 2>/dev/null || _pr_die 125 \
            "cannot open lock file $_pr_root/$_pr_cid.lock" "check that $_pr_root is writable"
        _pr_flock 7 "$_pr_root/$_pr_cid.lock" -s
        if [ -f "$_pr_root/$_pr_cid/$_pr_marker" ]; then _pr_code_ready=1; else flock -u 7; fi
    fi
    # 2. one pass over the layers, every byte checked before anything is committed
    _pr_layer env "$_pr_env_ready" "$_pr_env_sha" "$_pr_env_off" "$_pr_env_len"
    if [ -n "$_pr_cid" ]; then
        _pr_layer code "$_pr_code_ready" "$_pr_code_sha" "$_pr_code_off" "$_pr_code_len"
    fi
    _pr_check_end
    if [ -n "$_pr_bg" ]; then
        # shellcheck disable=SC2086 # a list of pids
        wait $_pr_bg
        _pr_bg=
    fi
    if [ -n "$_pr_env_ready" ]; then _pr_check_hashed env "$_pr_env_sha"; fi
    if [ -n "$_pr_code_ready" ]; then _pr_check_hashed code "$_pr_code_sha"; fi
    # 3. what was extracted is safe
    if [ -z "$_pr_env_ready" ]; then
        _pr_w=$_pr_work/env
        _pr_check_extracted
    fi
    if [ -n "$_pr_cid" ] && [ -z "$_pr_code_ready" ]; then
        _pr_w=$_pr_work/code
        _pr_check_extracted code
    fi
    # 4. commit: env first (conda-unpack), then code; the markers last
    _pr_prefix=$_pr_root/$_pr_id
    _pr_new_env=
    _pr_new_code=
    if [ -z "$_pr_env_ready" ] &&
        _pr_claim 8 "$_pr_root/$_pr_id.lock" "$_pr_prefix/$_pr_marker" && _pr_take "$_pr_id"
    then
        _pr_cleanup_prefix=$_pr_prefix
        _pr_remove_tree "$_pr_prefix" ||
            _pr_die 125 "cannot remove the incomplete environment $_pr_prefix" \
                "remove $_pr_prefix by hand"
        mv -- "$_pr_work/env/tree" "$_pr_prefix" ||
            _pr_die 125 "cannot move the environment into $_pr_prefix" "remove $_pr_prefix by hand"
        _pr_check_node
        _pr_conda_unpack
        _pr_new_env=1
    fi
    _pr_cdir=$_pr_root/$_pr_cid
    if [ -n "$_pr_cid" ] && [ -z "$_pr_code_ready" ] &&
        _pr_claim 7 "$_pr_cdir.lock" "$_pr_cdir/$_pr_marker" && _pr_take "$_pr_cid"; then
        _pr_cleanup_code=$_pr_cdir
        _pr_remove_tree "$_pr_cdir" ||
            _pr_die 125 "cannot remove the incomplete layer $_pr_cdir" "remove $_pr_cdir by hand"
        mv -- "$_pr_work/code/tree" "$_pr_cdir" ||
            _pr_die 125 "cannot move the code layer into $_pr_cdir" "remove $_pr_cdir by hand"
        _pr_new_code=1
    fi
    _pr_remove_tree "$_pr_work" # before the markers: a kill in between leaves no stray work
    _pr_work=
    if [ -n "$_pr_new_code" ]; then _pr_check_held "$_pr_cid"; fi
    if [ -n "$_pr_new_env" ]; then _pr_check_held "$_pr_id"; fi
    if [ -n "$_pr_new_code" ]; then
        _pr_write_marker "$_pr_cdir" "$_pr_cid" code
        _pr_cleanup_code=
    fi
    if [ -n "$_pr_new_env" ]; then
        _pr_write_marker "$_pr_prefix" "$_pr_id" env
        _pr_cleanup_prefix=
    fi
    _pr_release
    _pr_flock 8 "$_pr_root/$_pr_id.lock" -s
    if [ -n "$_pr_cid" ]; then _pr_flock 7 "$_pr_cdir.lock" -s; fi
    if [ ! -f "$_pr_prefix/$_pr_marker" ] || { [ -n "$_pr_cid" ] && [ ! -f "$_pr_cdir/$_pr_marker" ]; }
    then
        _pr_die 125 "a layer of $_pr_archive was removed while it was starting" \
            "run the command again"
    fi
    printf '%s\n' "$_pr_id${_pr_cid:+ $_pr_cid}" >"$_pr_root/.key-$_pr_key.tmp-$_pr_owner" &&
        mv -f -- "$_pr_root/.key-$_pr_key.tmp-$_pr_owner" "$_pr_root/.key-$_pr_key" ||
        _pr_die 125 "cannot write $_pr_root/.key-$_pr_key" "check that the cache has free space"
    _pr_code=
    if [ -n "$_pr_cid" ]; then _pr_code=$_pr_cdir/pkgtool-code; fi
}

# Remove the work directories of dead runs: .work-<key>_<owner> whose owner is a dead
# process of this host (.work-<key>: an older runner's), and whose key lock is free (or
# absent) unless <key> is this run's (whose key lock it holds).
_pr_remove_dead_work() {
    for _pr_dead in "$_pr_root"/.work-*; do
        [ -d "$_pr_dead" ] || continue
        _pr_k=${_pr_dead##*/.work-}
        case $_pr_k in
        *_*) _pr_is_dead "${_pr_k#*_}" || continue ;;
        esac
        _pr_k=${_pr_k%%_*}
        if [ "$_pr_k" = "$_pr_key" ] || [ ! -f "$_pr_root/.key-$_pr_k.lock" ]; then
            _pr_remove_tree "$_pr_dead"
        else
            flock -n "$_pr_root/.key-$_pr_k.lock" rm -rf "$_pr_dead" 2>/dev/null
        fi
    done
}

_pr_cold() {
    _pr_need tar gzip tee mkfifo sha256sum dd head tail od cat find chmod mv rm sed grep uname \
        getconf sync ln readlink sleep
    for _pr_tool in tar find dd; do
        case $_pr_tool:$($_pr_tool --version 2>/dev/null) in
        tar:*'GNU tar'* | find:*GNU* | dd:*GNU*) ;;
        *) _pr_die 125 "pkg-run.sh needs GNU $_pr_tool; $_pr_tool on PATH is not GNU $_pr_tool" \
            "put GNU $_pr_tool first on PATH, or run python -m pkgtool.runner instead" ;;
        esac
    done
    _pr_compression
    _pr_choose_sha
    { command exec 9>>"$_pr_root/.key-$_pr_key.lock"; } 2>/dev/null ||
        _pr_die 125 "cannot open lock file $_pr_root/.key-$_pr_key.lock" \
            "check that $_pr_root is writable"
    _pr_flock 9 "$_pr_root/.key-$_pr_key.lock"
    if _pr_warm; then
        exec 9>&-
        return 0
    fi
    _pr_host=$(uname -n | sed 's/[^A-Za-z0-9.-]/-/g')
    _pr_owner=${_pr_host}_$$_$(od -An -N4 -tx1 /dev/urandom | sed 's/[^0-9a-f]//g')
    _pr_remove_dead_work
    _pr_work=$_pr_root/.work-${_pr_key}_$_pr_owner # this run's alone
    mkdir -m 700 "$_pr_work" "$_pr_work/tree" ||
        _pr_die 125 "cannot create $_pr_work" "check that $_pr_root is writable and not full"
    if _pr_probe_layers; then
        _pr_cold_layered
        exec 9>&-
        return 0
    fi
    _pr_extract
    _pr_prefix=$_pr_root/$_pr_id
    { command exec 8>"$_pr_root/$_pr_id.lock"; } 2>/dev/null ||
        _pr_die 125 "cannot open lock file $_pr_root/$_pr_id.lock" "check that $_pr_root is writable"
    _pr_flock 8 "$_pr_root/$_pr_id.lock"
    if [ ! -f "$_pr_prefix/$_pr_marker" ] && _pr_take "$_pr_id"; then
        _pr_cleanup_prefix=$_pr_prefix
        _pr_remove_tree "$_pr_prefix" ||
            _pr_die 125 "cannot remove the incomplete environment $_pr_prefix" \
                "remove $_pr_prefix by hand"
        mv -- "$_pr_work/tree" "$_pr_prefix" ||
            _pr_die 125 "cannot move the environment into $_pr_prefix" "remove $_pr_prefix by hand"
        _pr_check_node
        _pr_conda_unpack
        # The work directory goes before the marker: a run killed between the two must not
        # leave a leftover that the next (warm) run never looks at.
        _pr_remove_tree "$_pr_work"
        _pr_work=
        _pr_check_held "$_pr_id"
        _pr_write_marker "$_pr_prefix" "$_pr_id"
        _pr_cleanup_prefix=
        _pr_release
    fi
    printf '%s\n' "$_pr_id" >"$_pr_root/.key-$_pr_key.tmp-$_pr_owner" &&
        mv -f -- "$_pr_root/.key-$_pr_key.tmp-$_pr_owner" "$_pr_root/.key-$_pr_key" ||
        _pr_die 125 "cannot write $_pr_root/.key-$_pr_key" "check that the cache has free space"
    _pr_flock 8 "$_pr_root/$_pr_id.lock" -s
    if [ -n "$_pr_work" ]; then _pr_remove_tree "$_pr_work"; fi
    _pr_work=
    exec 9>&-
}

# ---------------------------------------------------------------- main, cold

# The cold path's children (tar, gzip, zstd) get none of the variables that change what
# they do (TAR_OPTIONS can add -P, absolute names; GZIP -f passes non-gzip data through);
# the command gets them back as they were.
_pr_saved=
for _pr_var in TAR_OPTIONS GZIP ZSTD_CLEVEL ZSTD_NBTHREADS POSIXLY_CORRECT; do
    if eval "[ -n \"\${$_pr_var+set}\" ]"; then
        _pr_saved="$_pr_saved $_pr_var"
        eval "_pr_saved_$_pr_var=\${$_pr_var}"
        unset "$_pr_var"
    fi
done
_pr_cold
for _pr_var in $_pr_saved; do
    eval "$_pr_var=\${_pr_saved_$_pr_var}"
    export "${_pr_var?}"
done
_pr_exec "$@"
exit 125
