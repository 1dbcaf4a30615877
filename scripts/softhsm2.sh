# shellcheck shell=bash
# scripts/softhsm2.sh: the SoftHSM2 configuration every script of tde
# writes, sourced by scripts/lib.sh and bench/lib.sh, never run.  (The TAP
# tests write the same one: t/lib/TdeTest.pm.)

# Print the configuration for a token directory: the file object store,
# errors only in the log, and the library made anew in a forked process
# (a server forks its backends after the postmaster may have loaded it).
softhsm2_conf() {
	cat <<EOF
directories.tokendir = $1
objectstore.backend = file
log.level = ERROR
slots.removable = false
library.reset_on_fork = true
EOF
}
