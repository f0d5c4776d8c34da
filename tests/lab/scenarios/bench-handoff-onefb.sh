# bench-handoff-onefb: bench-handoff with the GPU's framebuffer the only one (the other card's
# driver unbound first): the hook unbinds fbcon, as on a host with a single card.
BENCH_ONE_FB=1
. /lab/scenarios/bench-handoff.sh
