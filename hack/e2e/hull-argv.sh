#!/bin/sh
# hull-argv.sh: a stand-in for hull that logs how callers (containerd's shim,
# conmon, podman) run it. Install it as DIR/hull next to DIR/hull.real (hull
# itself, or a symlink to it) and point the caller at DIR/hull. Every call
# appends to DIR/argv.log
#
#   CALL <pid> <caller's comm> <argv, shell-quoted>
#   EXIT <pid> <exit code>
#
# and `create`/`run` save the bundle's config.json as DIR/configs/<id>.json.
# Paths come from $0 only: shims and conmon pass the runtime no environment of
# ours. The wrapper waits for hull instead of exec'ing it, to log the exit code;
# hull's children are reparented to the caller (a subreaper) as usual.
PATH=${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}
d=$(dirname "$0")
log=$d/argv.log

q() {
	case $1 in
	'') printf "''" ;;
	*[!A-Za-z0-9_./:=,@%+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

caller=?
read -r caller < /proc/$PPID/comm 2>/dev/null || true
line="CALL $$ $(q "$caller")"
bundle= prev= sub= id=
for a in "$@"; do
	line="$line $(q "$a")"
	if [ -z "$sub" ]; then
		# The subcommand: the first word that is neither a global flag nor
		# the value of one.
		case $prev in
		--root | --log | --log-format | --rootless | --criu) ;;
		*) case $a in -*) ;; *) sub=$a ;; esac ;;
		esac
	fi
	case $prev in --bundle | -b) bundle=$a ;; esac
	case $a in --bundle=*) bundle=${a#--bundle=} ;; esac
	prev=$a
	id=$a
done
printf '%s\n' "$line" >> "$log"
if { [ "$sub" = create ] || [ "$sub" = run ]; } && [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
	mkdir -p "$d/configs" && cp "$bundle/config.json" "$d/configs/$id.json" 2>/dev/null
fi

"$d/hull.real" "$@"
rc=$?
printf 'EXIT %s %s\n' "$$" "$rc" >> "$log"
exit $rc
