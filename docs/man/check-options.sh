#!/bin/sh
# check-options.sh -- every option a program's --help lists is described in
# its man page (as *--option*).  Prints what is missing and exits 1, else 0.
#
# usage: check-options.sh PROGRAM MAN_PAGE_SOURCE
set -eu
prog=$1 page=$2
bad=0
for opt in $("$prog" --help | grep -o -- '--[a-z0-9-]*' | sort -u); do
	grep -qF -- "*$opt*" "$page" || {
		echo "check-options: $(basename "$page"): option $opt is not described" >&2
		bad=1
	}
done
[ "$bad" -eq 0 ] && echo "check-options: $(basename "$page") describes every option of $(basename "$prog")"
exit "$bad"
