"""Pictures of runs: logged series, the HTML report, static plots and TensorBoard over runs."""
