#!/bin/sh
# bin/run_in_env of a pkgtool environment (pkg create writes it into every archive).
#
#   DIR/bin/run_in_env                    check that DIR is an environment; exit 0
#   DIR/bin/run_in_env COMMAND [ARG...]   run COMMAND inside the environment DIR
#
# For an archive unpacked by plain `tar xf ARCHIVE -C DIR`, as TaskVine's declare_poncho
# does: its mini task runs `DIR/bin/run_in_env` once with no arguments, then the worker
# renames DIR into its cache, and each task runs `DIR/bin/run_in_env COMMAND...` (DIR a
# symbolic link to the cached directory). So the environment is relocated (conda-unpack)
# by the first run WITH a command, where DIR then is, once, under a lock; the run without a
# command does not relocate, since the directory may still move. The directory it was
# relocated to is recorded in DIR/.pkgtool-relocated; an environment moved after that
# (conda-unpack cannot run twice) is refused, exit 125. DIR/.pkgtool-ready (an environment
# unpacked by pkg run) counts as relocated.
#
# Activation is pkg run's (docs/runner.md, section 4): DIR/bin first on PATH, CONDA_PREFIX
# and CONDA_DEFAULT_ENV, no PYTHONPATH or PYTHONHOME, PKG_CODE_DIR=DIR/pkgtool-code when
# that exists (else unset), DIR/etc/conda/activate.d/*.sh sourced in byte order; then exec.
# No checks of the archive's members are made here: plain tar already extracted them.
# POSIX sh; needs flock (util-linux) for the first run only.

_rie_die() {
    printf 'run_in_env: error: %s\nrun_in_env: hint: %s\n' "$1" "$2" >&2
    exit 125
}

case $0 in
*/*) _rie_bin=${0%/*} ;;
*) _rie_bin=. ;;
esac
_rie_prefix=$(cd -P -- "$_rie_bin/.." 2>/dev/null && pwd -P) ||
    _rie_die "cannot find the environment of $0" "run it by its path: DIR/bin/run_in_env COMMAND"
if [ ! -x "$_rie_prefix/bin/python" ] || [ ! -f "$_rie_prefix/.pkgtool/manifest.json" ]; then
    _rie_die "$_rie_prefix is not an unpacked pkgtool environment" \
        "unpack the whole archive first: tar xf ARCHIVE -C DIR"
fi
[ "$#" -gt 0 ] || exit 0

_rie_mark=$_rie_prefix/.pkgtool-relocated

# _rie_relocated: 0 when relocated here, 1 when not yet; dies when relocated elsewhere
_rie_relocated() {
    [ ! -f "$_rie_prefix/.pkgtool-ready" ] || return 0
    [ -f "$_rie_mark" ] || return 1
    IFS= read -r _rie_was <"$_rie_mark" || _rie_was=
    [ "$_rie_was" != "$_rie_prefix" ] || return 0
    _rie_die "the environment was relocated to ${_rie_was:-?} and has moved to $_rie_prefix" \
        "unpack the archive again (tar xf) in the directory where it will stay"
}

_rie_relocate() {
    command -v flock >/dev/null 2>&1 ||
        _rie_die "flock not found (util-linux)" "install util-linux, or use pkg run ARCHIVE COMMAND"
    [ -w "$_rie_prefix" ] ||
        _rie_die "cannot relocate $_rie_prefix: not writable" \
            "the first run with a command relocates it: run that one as the directory's owner"
    (
        flock 9 || exit 125
        _rie_relocated && exit 0
        if [ -f "$_rie_prefix/bin/conda-unpack" ]; then
            (
                unset PYTHONPATH PYTHONHOME
                exec "$_rie_prefix/bin/python" "$_rie_prefix/bin/conda-unpack"
            ) </dev/null >&2 ||
                _rie_die "conda-unpack failed in $_rie_prefix" "see its messages above"
        fi
        printf '%s\n' "$_rie_prefix" >"$_rie_mark.tmp" && mv -f "$_rie_mark.tmp" "$_rie_mark" ||
            _rie_die "cannot write $_rie_mark" "the environment's directory must be writable once"
    ) 9>>"$_rie_prefix/.pkgtool-relocated.lock" || exit 125 # the subshell said why
}

_rie_relocated || _rie_relocate

PATH=$_rie_prefix/bin${PATH:+:$PATH}
CONDA_PREFIX=$_rie_prefix
CONDA_DEFAULT_ENV=$_rie_prefix
export PATH CONDA_PREFIX CONDA_DEFAULT_ENV
unset PYTHONPATH PYTHONHOME
if [ -d "$_rie_prefix/pkgtool-code" ]; then
    PKG_CODE_DIR=$_rie_prefix/pkgtool-code
    export PKG_CODE_DIR
else
    unset PKG_CODE_DIR
fi

_rie_source() {
    # in a function, so that a script's `shift` or `set --` cannot touch the command
    # shellcheck disable=SC1090 # the scripts come from the archive
    . "$1"
}

_rie_activate_d() {
    [ -d "$1" ] || return 0
    _rie_lc_set=${LC_ALL+set}
    _rie_lc=${LC_ALL-}
    LC_ALL=C # byte order, as pkg run sorts them
    set -- "$1"/*.sh
    if [ -n "$_rie_lc_set" ]; then LC_ALL=$_rie_lc; else unset LC_ALL; fi
    for _rie_script in "$@"; do
        if [ -f "$_rie_script" ]; then _rie_source "$_rie_script"; fi
    done
}

_rie_activate_d "$_rie_prefix/etc/conda/activate.d"
exec "$@"
