// `make bench`: prints throughput, timing and memory figures. Not part of `make test`.
print("# Trawl benchmarks")
runTensorBenchmarks()
runMetricsBenchmarks()
runImagesBenchmarks()
runScorerBenchmarks()
runDataBenchmarks()
runBackboneBenchmarks()
runExperimentsBenchmarks()
