#!/bin/sh
# Run kmemd under valgrind memcheck for `make valgrind`: the integration
# tests start this in place of the daemon (KMEMD_BIN).  Any memcheck error
# makes the daemon exit 99, which the tests see as a failed shutdown; the
# report goes to the daemon's log and to $KMEMD_VALGRIND_LOG.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--track-fds=no --log-file="${KMEMD_VALGRIND_LOG:-/tmp/kmemd-valgrind.%p.log}" \
	"${KMEMD_REAL_BIN:?}" "$@"
