# Reference values from R psych's alpha(), for tests/test_reliability_r_psych.py.
# Usage: Rscript psych_alpha.R OUT_DIR
# Writes OUT_DIR/bfi.csv (psych's bfi questionnaire data, 2800 respondents with missing
# answers), and OUT_DIR/reference.json with alpha results for several item sets.
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
data(bfi)
write.csv(bfi, file.path(out, "bfi.csv"), row.names = FALSE, na = "")

missing_csv <- args[2]
sets <- list(
  list(name = "bfi_agreeableness", items = c("A1", "A2", "A3", "A4", "A5"), reverse = c("A1")),
  list(name = "bfi_conscientiousness", items = c("C1", "C2", "C3", "C4", "C5"), reverse = c("C4", "C5")),
  list(name = "bfi_neuroticism", items = c("N1", "N2", "N3", "N4", "N5"), reverse = character(0)),
  list(name = "bfi_openness_two", items = c("O1", "O3"), reverse = character(0))
)

num <- function(x) sprintf("%.15g", x)
strings <- function(x) if (length(x) == 0) "[]" else paste0("[", paste0("\"", x, "\"", collapse = ", "), "]")
vec <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ", "), "]")
result_json <- function(name, items, reverse, use, a) {
  drop <- if (length(items) > 2) vec(a$alpha.drop$raw_alpha) else "null"
  paste0(
    "{\"name\": \"", name, "\", \"use\": \"", use, "\", ",
    "\"items\": ", strings(items), ", ",
    "\"reverse\": ", strings(reverse), ", ",
    "\"raw_alpha\": ", num(a$total$raw_alpha), ", ",
    "\"std_alpha\": ", num(a$total$std.alpha), ", ",
    "\"alpha_drop\": ", drop, ", ",
    "\"r_drop\": ", vec(a$item.stats$r.drop), ", ",
    "\"item_n\": ", vec(a$item.stats$n), ", ",
    "\"item_mean\": ", vec(a$item.stats$mean), ", ",
    "\"item_sd\": ", vec(a$item.stats$sd), "}"
  )
}
records <- character(0)
for (s in sets) {
  x <- bfi[, s$items]
  for (r in s$reverse) x[[r]] <- 7 - x[[r]]  # bfi answers run 1..6
  for (use in c("pairwise", "complete.obs")) {
    x_used <- if (use == "complete.obs") x[complete.cases(x), ] else x
    a <- alpha(x_used, use = use, warnings = FALSE, check.keys = FALSE)
    records <- c(records, result_json(s$name, s$items, s$reverse, use, a))
  }
}
if (!is.na(missing_csv)) {
  x <- read.csv(missing_csv)
  a <- alpha(x, use = "pairwise", warnings = FALSE, check.keys = FALSE)
  records <- c(records, result_json("pingouin_cronbach_wide_missing", colnames(x), character(0), "pairwise", a))
}
writeLines(paste0("[\n", paste(records, collapse = ",\n"), "\n]"), file.path(out, "reference.json"))
