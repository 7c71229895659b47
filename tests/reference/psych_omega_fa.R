# Reference values for tests/test_psychometrics_r.py: psych::omega (one factor), psych::fa
# (minres and ml, oblimin), multilevel::rwg.j and ICC1/ICC2 with the mean squares of aov.
# Usage: Rscript psych_omega_fa.R OUT_DIR
# Writes OUT_DIR/bfi.csv (psych's bfi data: 2800 respondents, 1-6 answers, missing answers)
# and OUT_DIR/psychometrics.json.
suppressPackageStartupMessages({
  library(psych)
  library(GPArotation)
  library(multilevel)
})
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
data(bfi)
write.csv(bfi, file.path(out, "bfi.csv"), row.names = FALSE, na = "")

num <- function(x) if (length(x) == 1 && is.na(x)) "null" else sprintf("%.15g", x)
vec <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ", "), "]")
strings <- function(x) if (length(x) == 0) "[]" else paste0("[", paste0("\"", x, "\"", collapse = ", "), "]")
keyed <- function(items, reverse) {
  x <- bfi[, items]
  for (r in reverse) x[[r]] <- 7 - x[[r]]
  x
}

omega_sets <- list(
  list(name = "neuroticism", items = paste0("N", 1:5), reverse = character(0)),
  list(name = "conscientiousness", items = paste0("C", 1:5), reverse = c("C4", "C5")),
  list(name = "openness", items = paste0("O", 1:5), reverse = c("O2", "O5")),
  list(name = "extraversion_unkeyed", items = paste0("E", 1:5), reverse = character(0))
)
records <- character(0)
for (s in omega_sets) {
  x <- keyed(s$items, s$reverse)
  o <- suppressMessages(suppressWarnings(omega(x, nfactors = 1, plot = FALSE)))
  records <- c(records, paste0(
    "{\"kind\": \"omega\", \"name\": \"", s$name, "\", \"items\": ", strings(s$items),
    ", \"reverse\": ", strings(s$reverse), ", \"omega_total\": ", num(o$omega.tot),
    ", \"omega_h\": ", num(o$omega_h), ", \"key\": ", vec(o$key), "}"
  ))
}

fa_sets <- list(
  list(name = "conscientiousness_extraversion", items = c(paste0("C", 1:5), paste0("E", 1:5)), nf = 2),
  list(name = "neuroticism_openness", items = c(paste0("N", 1:5), paste0("O", 1:5)), nf = 2),
  list(name = "c_e_n", items = c(paste0("C", 1:5), paste0("E", 1:5), paste0("N", 1:5)), nf = 3)
)
for (s in fa_sets) {
  for (fm in c("minres", "ml")) {
    f <- suppressMessages(fa(bfi[, s$items], nfactors = s$nf, fm = fm, rotate = "oblimin"))
    L <- unclass(f$loadings)
    records <- c(records, paste0(
      "{\"kind\": \"fa\", \"name\": \"", s$name, "\", \"fm\": \"", fm, "\", \"items\": ",
      strings(s$items), ", \"nfactors\": ", s$nf,
      ", \"loadings\": [", paste(apply(L, 1, vec), collapse = ", "), "]",
      ", \"communality\": ", vec(f$communality),
      ", \"phi\": [", paste(apply(f$Phi, 1, vec), collapse = ", "), "]",
      ", \"ss_loadings\": ", vec(diag(f$Phi %*% t(L) %*% L)), "}"
    ))
  }
}

agreement_sets <- list(
  list(name = "conscientiousness", items = paste0("C", 1:5), reverse = c("C4", "C5")),
  list(name = "neuroticism", items = paste0("N", 1:5), reverse = character(0)),
  list(name = "agreeableness", items = paste0("A", 1:5), reverse = c("A1"))
)
for (s in agreement_sets) {
  x <- keyed(s$items, s$reverse)
  r <- rwg.j(x, bfi$education, ranvar = (6^2 - 1) / 12)
  score <- rowMeans(x, na.rm = TRUE)
  score[is.nan(score)] <- NA
  model <- aov(score ~ as.factor(bfi$education))
  table <- summary(model)[[1]]
  records <- c(records, paste0(
    "{\"kind\": \"agreement\", \"name\": \"", s$name, "\", \"items\": ", strings(s$items),
    ", \"reverse\": ", strings(s$reverse), ", \"group\": \"education\"",
    ", \"rwg_groups\": ", strings(as.character(r$grpid)), ", \"rwg_j\": ", vec(r$rwg.j),
    ", \"gsize\": ", vec(r$gsize),
    ", \"ms_between\": ", num(table[1, 3]), ", \"ms_within\": ", num(table[2, 3]),
    ", \"df_between\": ", num(table[1, 1]), ", \"df_within\": ", num(table[2, 1]),
    ", \"icc1\": ", num(ICC1(model)), ", \"icc2\": ", num(ICC2(model)), "}"
  ))
}
writeLines(paste0("[\n", paste(records, collapse = ",\n"), "\n]"), file.path(out, "psychometrics.json"))
