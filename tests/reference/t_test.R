# One-sample t.test confidence intervals for the report's scale means, computed live.
# Usage: Rscript t_test.R input.csv output.json   (input: columns name, value)
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1], stringsAsFactors = FALSE)
results <- lapply(split(data$value, data$name), function(x) {
  test <- t.test(x, conf.level = 0.95)
  c(mean = unname(test$estimate), low = test$conf.int[1], high = test$conf.int[2], n = length(x))
})
lines <- vapply(names(results), function(name) {
  r <- results[[name]]
  sprintf('"%s": {"mean": %.15g, "low": %.15g, "high": %.15g, "n": %d}', name, r[["mean"]],
          r[["low"]], r[["high"]], as.integer(r[["n"]]))
}, character(1))
writeLines(paste0("{", paste(lines, collapse = ", "), "}"), args[2])
