#!/bin/bash
# handoff.sh - pre-start and post-stop of the real hookscript for a GPU + audio group, as
# ratios to a minimal C program doing only the required sysfs writes (and the VFIO open) on
# the same lab boot (targets: within 1.25x), in both console cases: another card's framebuffer
# takes the consoles (the std topology as it is), or the GPU's is the only one (fbcon
# unbound). Needs the lab (tests/lab; make demo sets it up).
set -euo pipefail
. "$(dirname "$0")/lab-prepare.sh"
report() {
	local scen=$1 title=$2
	"$top/tests/lab/run.sh" -k "$series" -f pvh -s "$scen" -n "$series/pvh/std" >/dev/null
	log=$LAB_LOGS/${series}_pvh_std-$scen.log
	median() {
		tr -d '\r' <"$log" | sed -n "s/^  | BENCH $1 //p" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
	}
	pre=$(median hook-pre-start) post=$(median hook-post-stop)
	minv=$(median min-to-vfio) minh=$(median min-to-host)
	echo "== $title"
	echo "kernel $series, TCG, medians in microseconds"
	awk -v a="$pre" -v b="$minv" 'BEGIN {printf "pre-start:  hook %d us, minimal %d us, ratio %.2f (target <= 1.25)\n", a, b, a / b}'
	awk -v a="$post" -v b="$minh" 'BEGIN {printf "post-stop:  hook %d us, minimal %d us, ratio %.2f (target <= 1.25)\n", a, b, a / b}'
	# Attribution, from the fastest of the runs of each (a loaded machine only adds to a run):
	# pre-start overhead = hook - minimal, split into starting the hook beyond a static program,
	# config/collect/locks/checks/plan (a dry run minus the start), and what is left.
	best() {
		tr -d '\r' <"$log" | sed -n "s/^  | BENCH $1 //p" | sort -n | head -n 1
	}
	bpre=$(best hook-pre-start) bpost=$(best hook-post-stop) bminv=$(best min-to-vfio) bminh=$(best min-to-host)
	ss=$(best static-start) hs=$(best hook-start) dry=$(best hook-dry-pre-start)
	ds=$(best dyn-start) mdv=$(best mindyn-to-vfio) mdh=$(best mindyn-to-host)
	awk -v pre="$bpre" -v post="$bpost" -v min="$bminv" -v minh="$bminh" -v ss="$ss" -v hs="$hs" \
		-v dry="$dry" -v ds="${ds:-0}" -v mdv="${mdv:-0}" -v mdh="${mdh:-0}" 'BEGIN {
		printf "fastest runs: pre-start hook %d us / minimal %d us = %.2f; post-stop %d / %d = %.2f\n", pre, min, pre / min, post, minh, post / minh
		if (mdv > 0)
			printf "  minimal linked as the hook is (dynamic, PIE, relro/now): pre-start %.2f, post-stop %.2f\n", pre / mdv, post / mdh
		o = pre - min
		printf "pre-start overhead %d us:\n", o
		printf "  program start, static %d us -> dynamic minimal %d us -> hook %d us:\n", ss, ds, hs
		if (ds > 0)
			printf "    dynamic loader and libc (any Debian-linked program): %6d us\n    libinih and the hook'"'"'s own start:                   %6d us\n", ds - ss, hs - ds
		printf "  config, collect, locks, checks, plan (dry run - start): %6d us\n", dry - hs
		printf "  the rest (state file, log lines, waits for the driver):  %6d us\n", o - (hs - ss) - (dry - hs) }'
	tr -d '\r' <"$log" | sed -n 's/^  | BENCHINFO consoles: /consoles (vtconsole number, or move:OTHER-CARD as the hook moved them): /p'
	tr -d '\r' <"$log" | sed -n '/BENCHINFO consoles/d; s/^  | BENCHINFO /  hook, dynamic loader: /p'
}
report bench-handoff "two cards: the hook moves the consoles to the other card's framebuffer"
report bench-handoff-onefb "the GPU's framebuffer the only one: the hook unbinds fbcon"
