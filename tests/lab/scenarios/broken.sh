# broken: a deliberately failing scenario, to show that the lab catches failures:
#   tests/lab/run.sh -k 6.1 -f pvh -s broken   (prints FAIL and exits 1)
expect_driver $GPU no-such-driver
